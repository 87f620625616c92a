import { describe, expect, it } from 'vitest';
import { isTransientFsError, newImageId, oneLine } from '../../src/tasks/resize.js';

describe('resize helpers', () => {
  it('treats EMFILE, ENFILE, EBUSY, EIO and EAGAIN as transient', () => {
    for (const code of ['EMFILE', 'ENFILE', 'EBUSY', 'EIO', 'EAGAIN']) {
      expect(isTransientFsError(Object.assign(new Error(code), { code }))).toBe(true);
    }
    for (const code of ['ENOENT', 'EACCES', undefined]) {
      expect(isTransientFsError(Object.assign(new Error('x'), { code }))).toBe(false);
    }
    expect(isTransientFsError('EIO')).toBe(false);
  });

  it('puts multi-line errors on one line', () => {
    expect(oneLine('VipsJpeg: premature end\nvips2jpeg: unable to write\n')).toBe(
      'VipsJpeg: premature end; vips2jpeg: unable to write',
    );
    expect(oneLine('x'.repeat(2000))).toHaveLength(500);
  });

  it('makes img_ ids of 10 base-32 characters', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newImageId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^img_[0-9a-hjkmnp-tv-z]{10}$/);
  });
});
