import type { ImageRecord, RecordsStore } from '../../src/core/records.js';
import { openStore } from '../../src/store/index.js';

/**
 * The real records store on an in-memory SQLite database, for tests that call task handlers
 * directly. It notes the `olderThan` calls so batching can be asserted.
 */
export function memoryRecords(): RecordsStore & {
  images: RecordsStore['images'] & { olderThanCalls: { iso: string; limit: number | undefined }[] };
  close(): void;
} {
  const store = openStore(':memory:');
  const base = store.records.images;
  const olderThanCalls: { iso: string; limit: number | undefined }[] = [];
  return {
    ...store.records,
    images: {
      ...base,
      olderThanCalls,
      olderThan(iso: string, limit?: number): ImageRecord[] {
        olderThanCalls.push({ iso, limit });
        return base.olderThan(iso, limit);
      },
    },
    close: () => store.close(),
  };
}
