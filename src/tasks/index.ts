/**
 * Ready-made tasks (`tq/tasks`): image thumbnails and their cleanup, plus sample images.
 * This is the only part of tq that uses sharp.
 */
export { resizeImage, RESIZE_DEFAULTS } from './resize/index.js';
export type { ResizeOptions, ResizePayload, ResizeResult } from './resize/index.js';
export { cleanupImages, CLEANUP_DEFAULT_OLDER_THAN } from './cleanup.js';
export type { CleanupOptions, CleanupPayload, CleanupResult } from './cleanup.js';
export { generateSampleImages, writeTestImage, SAMPLE_IMAGES } from './samples.js';
export type { TestImageFormat, TestImageOptions } from './samples.js';
export { DEFAULT_FORMATS, acceptedFormats } from './image-formats.js';
export type { DefaultFormat, OutputFormat } from './image-formats.js';
