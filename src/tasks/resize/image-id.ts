import { randomBytes } from 'node:crypto';
import type { RecordsStore } from '../../core/records.js';

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A new image id: `img_` and 10 base-32 characters (50 random bits), unused in `db`. */
export function newImageId(db?: RecordsStore): string {
  for (;;) {
    const bytes = randomBytes(10);
    let id = 'img_';
    for (const b of bytes) id += ID_ALPHABET[b & 31];
    if (!db || db.images.get(id) === undefined) return id;
  }
}
