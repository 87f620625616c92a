/**
 * The `resize` task (`resizeImage()` in `tq/tasks`): a thumbnail of every uploaded image.
 *
 * Files live under the media directory: originals in `original/`, thumbnails in `resized/`;
 * payloads and records only hold media-relative paths, so a worker on another host with the
 * same (shared) media directory can process them.
 *
 * - `options.ts`: payload, result and options; the settings checked at config load.
 * - `upload.ts`: `fromArgs`, storing the files given to `tq enqueue resize` or the client.
 * - `handler.ts`: one attempt, keeping the image record up to date.
 * - `read-original.ts`, `header.ts`, `thumbnail.ts`: the steps of an attempt.
 */
import type { CliInputContext, TaskContext, TaskDefinition } from '../../core/task.js';
import { loadSharp } from '../sharp.js';
import { runResize } from './handler.js';
import { resolveResizeOptions, type ResizeOptions, type ResizePayload, type ResizeResult } from './options.js';
import { prepareUploads } from './upload.js';

export { RESIZE_DEFAULTS } from './options.js';
export type { ResizeOptions, ResizePayload, ResizeResult } from './options.js';

/** The `resize` task definition: thumbnails that fit in `maxWidth` x `maxHeight`, on queue `images` by default. */
export function resizeImage(options: ResizeOptions = {}): TaskDefinition<ResizePayload, ResizeResult> {
  const { settings, taskOptions } = resolveResizeOptions(options);
  return {
    ...taskOptions,
    queue: options.queue ?? 'images',
    description: options.description ?? `Make a thumbnail (at most ${settings.maxWidth}x${settings.maxHeight}) of an image file`,
    run: (payload: ResizePayload, ctx: TaskContext) => runResize(payload, ctx, settings),
    fromArgs: (args: string[], ctx: CliInputContext) => prepareUploads(args, ctx),
    // sharp (libvips) takes ~0.1-0.2 s to load: a worker loads it before its first run.
    warmup: async () => {
      await loadSharp();
    },
  };
}
