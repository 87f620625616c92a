/**
 * The benchmark's tq application, as the tq client scripts import it. `tq worker` and `tq enqueue`
 * load the same application from a `tasks.config.ts` written by `bench/lib/project.ts`
 * (CONFIG_SOURCE): keep the two in step.
 */
import { defineConfig, defineTask } from 'tq-toolkit';
import { resizeImage } from 'tq-toolkit/tasks';

export const NOOP_QUEUE = 'bench';

export default defineConfig({
  media: 'media',
  tasks: {
    noop: defineTask({ queue: NOOP_QUEUE, run: async () => null }),
    hello: defineTask({ args: ['name'], run: async ({ name }: { name: string }) => `hello ${name}` }),
    resize: resizeImage({ maxWidth: 800, maxHeight: 600, quality: 85, queue: 'images' }),
  },
});
