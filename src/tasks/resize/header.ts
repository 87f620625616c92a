/**
 * What sharp reads of an original's header before anything is decoded, and the checks made on
 * it (format and size decide whether the image is refused).
 */
import type { Metadata } from 'sharp';
import { FatalTaskError, errorMessage } from '../../core/errors.js';
import { FAIL_ON, loadSharp } from '../sharp.js';
import { oneLine } from './one-line.js';

/** The header of an image in memory; anything sharp cannot read is a corrupt image (final). */
export async function readMetadata(data: Buffer): Promise<Metadata> {
  const sharp = await loadSharp();
  try {
    // Header only: no pixel limit here so that an oversized image gets a message with its size.
    return await sharp(data, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch (err) {
    throw new FatalTaskError(`corrupt or unrecognised image: ${oneLine(errorMessage(err))}`, { cause: err });
  }
}

/** Refuses (finally) an image over the pixel limit, a guard against decompression bombs. */
export function checkPixels(width: number, height: number, maxPixels: number): void {
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new FatalTaskError(`image is ${width}x${height} = ${pixels} pixels, over the ${maxPixels}-pixel limit`);
  }
}
