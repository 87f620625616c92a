import type sharpType from 'sharp';

let loading: Promise<typeof sharpType> | undefined;

/**
 * sharp (libvips) on first use. A config that defines `resize` loads this package, so every
 * command would pay ~75 ms and the worker ~20 MB for it at start even when nothing is resized
 * (`tq enqueue hello`, `tq inspect`, a worker of other queues).
 */
export function loadSharp(): Promise<typeof sharpType> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}

/**
 * How picky the decoder is. `'none'` decodes a truncated JPEG into a grey-bottomed image without
 * complaint; `'truncated'` and above reject it. `'error'` rejects truncated and corrupt data but
 * (unlike sharp's default `'warning'`) lets through the harmless warnings real-world cameras
 * produce (e.g. "extraneous bytes before marker").
 */
export const FAIL_ON = 'error' as const;
