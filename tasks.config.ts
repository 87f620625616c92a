// The sample application: image thumbnails (resize), a nightly cleanup, and a trivial task.
import { defineConfig, defineTask } from 'tq';
import { cleanupImages, resizeImage } from 'tq/tasks';

export default defineConfig({
  media: 'media',
  tasks: {
    resize: resizeImage({ maxWidth: 800, maxHeight: 600, quality: 85, queue: 'images', attempts: 3 }),
    cleanup: cleanupImages({ olderThan: '30d' }),
    hello: defineTask({
      args: ['name'],
      description: 'says hello (try: tq enqueue hello world --wait)',
      run: async ({ name }: { name: string }) => `hello ${name}`,
    }),
  },
  schedules: {
    'clean-old-images-every-day': { task: 'cleanup', cron: '0 3 * * *' },
  },
});
