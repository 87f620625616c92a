/**
 * The lock keeper's thread (see lock-keeper.ts), as source text: a thread started from a file
 * would need a compiled `.js` beside this module, which tests that run the TypeScript sources do
 * not have. It is small, plain CommonJS, and loads ioredis from the path the main thread resolved.
 *
 * Every check (a quarter of the lock, at most a second) it reads the main thread's last tick
 * from shared memory. While the main thread ticks it does nothing at all (BullMQ renews the
 * locks). Once the main thread has missed a tick by the blocked threshold it renews the tracked
 * runs' locks with BullMQ's own rule (the lock is ours: extend it and leave the stalled set) and
 * writes one line naming the runs. Past a run's time limit, or past `maxBlockedMs`, it records
 * why on each run (a mark the next execution's gate reads), writes one line and ends the
 * process with SIGKILL: signal handlers need the main thread, which is the one that is stuck.
 */
import { MARK_SCRIPT } from '../run-marks.js';

export const LOCK_KEEPER_THREAD = String.raw`
'use strict';
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { Redis, Cluster } = require(workerData.ioredis);
const ticks = new Float64Array(workerData.ticks);
const tracked = new Map();
let redis;
let warnedAt = 0;
let ending = false;

const EXTEND = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]); redis.call('SREM', KEYS[2], ARGV[3]); return 1 end return 0";
const MARK = ${JSON.stringify(MARK_SCRIPT)};

function line(text) {
  try { fs.writeSync(workerData.logFd, '[' + new Date().toISOString().slice(11, 19) + '] ' + text + '\n'); } catch (err) { if (err && err.code !== 'EAGAIN') throw err; }
}
function seconds(ms) { return (ms / 1000).toFixed(1) + 's'; }
function connection() {
  if (!redis) {
    const retry = (n) => Math.min(200 * n, 2000);
    redis = workerData.cluster
      ? new Cluster(workerData.cluster, { redisOptions: { ...workerData.redis, maxRetriesPerRequest: 1 }, lazyConnect: false, enableOfflineQueue: true, clusterRetryStrategy: retry })
      : new Redis({ ...workerData.redis, lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: true, retryStrategy: retry });
    redis.on('error', () => undefined);
  }
  return redis;
}
function labels() { return [...tracked.values()].map((r) => r.label).join(', '); }

async function renew() {
  const r = connection();
  const pipe = r.pipeline();
  const runs = [...tracked.values()].filter((run) => !run.lost);
  if (runs.length === 0) return;
  for (const run of runs) pipe.eval(EXTEND, 2, run.lock, run.stalled, run.token, workerData.lockDurationMs, run.id);
  const results = (await pipe.exec()) || [];
  // A lock that is not ours any more (expired before the thread saw it, or taken over) is not
  // renewed again, but the run stays listed: if this process has to end, the run still gets its mark.
  results.forEach((res, i) => {
    if (res && res[1] === 0) runs[i].lost = true;
  });
}

async function end(reason, final, why) {
  ending = true;
  const r = connection();
  const pipe = r.pipeline();
  for (const run of tracked.values()) pipe.eval(MARK, 1, workerData.marks, run.queue + ':' + run.id, why(run), final(run) ? '1' : '0');
  try { await Promise.race([pipe.exec(), new Promise((res) => setTimeout(res, 2000))]); } catch (err) { line('tq worker ' + workerData.worker + ': could not record why its runs end (' + (err && err.message) + ')'); }
  line('tq worker ' + workerData.worker + ': ' + reason + '; ending this process (SIGKILL) so its runs are recovered by another worker');
  process.kill(process.pid, 'SIGKILL');
}

async function check() {
  drain();
  if (ending || tracked.size === 0) { warnedAt = 0; return; }
  const now = Date.now();
  const blocked = now - ticks[0];
  if (blocked < workerData.blockedMs) { warnedAt = 0; return; }
  if (!warnedAt) {
    warnedAt = now;
    line('tq worker ' + workerData.worker + ': the event loop has been blocked for ' + seconds(blocked) + ' while running ' + labels() +
      '; their locks are kept from a helper thread, but heartbeats, time limits and other runs wait. A handler must not block the event loop: make it async, or set isolate: true');
  }
  const late = [...tracked.values()].filter((run) => run.deadline && now > run.deadline + 1000);
  if (late.length > 0) {
    return end('the event loop has been blocked for ' + seconds(blocked) + ', past the time limit of ' + late.map((r) => r.label).join(', '),
      (run) => late.includes(run),
      (run) => late.includes(run)
        ? 'TimeLimitExceeded: run exceeded its time limit while blocking the event loop for ' + seconds(blocked) + ' (its worker was ended); make the handler async, or set isolate: true'
        : 'blocked: its worker was ended while another run blocked the event loop');
  }
  if (blocked > workerData.maxBlockedMs) {
    return end('the event loop has been blocked for ' + seconds(blocked) + ' (over worker.maxBlocked, ' + workerData.maxBlockedText + ') by ' + labels(),
      () => false,
      (run) => 'blocked the event loop for over ' + workerData.maxBlockedText + ' (worker.maxBlocked) and its worker was ended; make the handler async, or set isolate: true');
  }
  try { await renew(); } catch (err) { line('tq worker ' + workerData.worker + ': could not keep run locks while the event loop is blocked (' + (err && err.message) + ')'); }
}

// Runs started ('T') and ended ('U'), from the ring the main thread writes (see lock-keeper.ts).
const ringSeq = new Int32Array(workerData.ring, 0, 1);
const ringSlots = Buffer.from(workerData.ring, 8);
let seen = 0;
function drain() {
  const seq = Atomics.load(ringSeq, 0);
  let n = (seq - seen) | 0;
  if (n > workerData.ringSlots) { seen = (seq - workerData.ringSlots) | 0; n = workerData.ringSlots; }
  for (let i = 0; i < n; i++) {
    const offset = (seen & (workerData.ringSlots - 1)) * workerData.ringSlotBytes;
    const length = ringSlots.readUInt16LE(offset);
    const fields = ringSlots.toString('utf8', offset + 2, offset + 2 + length).split('\t');
    seen = (seen + 1) | 0;
    if (fields[0] === 'U') { tracked.delete(fields[1]); continue; }
    const [, id, token, queue, deadline, ...label] = fields;
    const base = workerData.prefix + ':' + queue;
    tracked.set(id, { id, token, queue, deadline: Number(deadline) || undefined, label: label.join('\t'), lock: base + ':' + id + ':lock', stalled: base + ':stalled' });
  }
}
const drainTimer = setInterval(drain, 50);

parentPort.on('message', (m) => {
  if (m.t === 'close') { clearInterval(timer); clearInterval(drainTimer); if (redis) redis.disconnect(); parentPort.close(); }
});
// Connected at once: when the main thread blocks, the connection must already be there.
connection();
let running = false;
const timer = setInterval(() => {
  if (running) return;
  running = true;
  check().finally(() => { running = false; });
}, Math.max(100, Math.min(1000, workerData.lockDurationMs / 4)));
`;
