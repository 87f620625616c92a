import { describe, expect, it } from 'vitest';
import { newImageId } from '../../src/tasks/resize/image-id.js';
import { oneLine } from '../../src/tasks/resize/one-line.js';

describe('resize helpers', () => {
  it('puts multi-line errors on one line', () => {
    expect(oneLine('VipsJpeg: premature end\nvips2jpeg: unable to write\n')).toBe('VipsJpeg: premature end; vips2jpeg: unable to write');
    expect(oneLine('x'.repeat(2000))).toHaveLength(500);
  });

  it('makes img_ ids of 10 base-32 characters', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newImageId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^img_[0-9a-hjkmnp-tv-z]{10}$/);
  });
});
