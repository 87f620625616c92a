import { afterAll, describe, expect, it } from 'vitest';
import { failNotEnqueued } from '../../src/core/not-enqueued.js';
import { memoryRecords } from '../helpers/records.js';

describe('records of files whose runs were never enqueued', () => {
  const db = memoryRecords();
  afterAll(() => db.close());

  it('fails the pending ones with the reason and leaves the rest to their runs', () => {
    for (const id of ['img_pending', 'img_taken', 'img_done']) db.images.insert({ id, original_path: `original/${id}.jpg`, bytes: 1 });
    db.images.update('img_taken', { status: 'processing' });
    db.images.update('img_done', { status: 'processed' });
    const prepared = [
      { payload: {}, meta: { recordId: 'img_pending' } },
      { payload: {}, meta: { recordId: 'img_taken' } },
      { payload: {}, meta: { recordId: 'img_done' } },
      { payload: {}, meta: { recordId: 'img_unknown' } },
      { payload: {} },
    ];
    failNotEnqueued(db, prepared, new Error('Redis is unreachable'));
    expect(db.images.get('img_pending')).toMatchObject({ status: 'failed', error: 'not enqueued: Redis is unreachable' });
    expect(db.images.get('img_taken')).toMatchObject({ status: 'processing', error: null });
    expect(db.images.get('img_done')).toMatchObject({ status: 'processed', error: null });
    expect(db.images.get('img_unknown')).toBeUndefined();
  });
});
