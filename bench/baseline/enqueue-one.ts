/**
 * The CLI baseline: the least a Node script can do to enqueue one BullMQ job — connect with
 * ioredis, add, disconnect. Compared with a fresh `tq enqueue hello world`.
 *
 *   node baseline/enqueue-one.js '{"url":"redis://...","prefix":"p"}'
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const { url, prefix } = JSON.parse(process.argv[2] ?? '{}') as { url: string; prefix: string };
const connection = new Redis(url, { maxRetriesPerRequest: null });
const queue = new Queue('default', { connection, prefix });
const job = await queue.add('hello', { name: 'world' });
console.log(job.id);
await queue.close();
connection.disconnect();
