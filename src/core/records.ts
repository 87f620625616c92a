/**
 * The records store as task handlers see it (`ctx.db`). The implementation lives in
 * `src/store`; handlers and `src/tasks` only know this interface.
 */
export type ImageStatus = 'pending' | 'processing' | 'processed' | 'failed';

export interface ImageRecord {
  id: string;
  original_path: string;
  resized_path: string | null;
  width: number | null;
  height: number | null;
  resized_width: number | null;
  resized_height: number | null;
  bytes: number | null;
  resized_bytes: number | null;
  status: ImageStatus;
  error: string | null;
  uploaded_at: string;
  processed_at: string | null;
}

export interface NewImage {
  id: string;
  original_path: string;
  bytes: number;
  uploaded_at?: string;
}

export interface ImagesRepository {
  insert(image: NewImage): ImageRecord;
  /** Inserts the record unless one with that id exists (workers on another host). */
  ensure(image: NewImage): ImageRecord;
  get(id: string): ImageRecord | undefined;
  update(id: string, fields: Partial<Omit<ImageRecord, 'id'>>): void;
  /** Records uploaded before `isoTime`, oldest first. */
  olderThan(isoTime: string, limit?: number): ImageRecord[];
  delete(id: string): boolean;
  count(): number;
}

export interface RecordsStore {
  readonly images: ImagesRepository;
  /** Runs `fn` inside one write transaction. */
  transaction<T>(fn: () => T): T;
  /** Runs a read-only SQL query (for tasks that keep records of their own). */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[];
  /** Runs a write statement; returns the number of rows changed. */
  run(sql: string, ...params: unknown[]): number;
}
