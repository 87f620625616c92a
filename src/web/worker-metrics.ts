/**
 * `tq worker --metrics-port N`: one worker's process metrics for Prometheus (event-loop lag,
 * memory, CPU, active runs), on a small server of its own. The deployment's queue metrics are
 * `tq web`'s `/metrics`; these say how each worker process itself is doing.
 */
import Fastify from 'fastify';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import client from 'prom-client';

/** What the metrics read of the worker (its `stats()`). */
export interface WorkerMetricsSource {
  readonly name: string;
  stats(): { processed: number; failed: number; zombies: number; active: number; lastFetchAt: number };
}

export interface WorkerMetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Parses `--metrics-port`: `9464`, or `host:port` to bind another address (default 127.0.0.1). */
export function parseMetricsAddress(value: string): { host: string; port: number } | undefined {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(value);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port };
}

export async function startWorkerMetrics(
  worker: WorkerMetricsSource,
  address: { host: string; port: number },
): Promise<WorkerMetricsServer> {
  const registry = new client.Registry();
  registry.setDefaultLabels({ worker: worker.name });
  // The process itself. Not prom-client's default set: three of its gauges end in _total.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  new client.Gauge({
    name: 'tq_worker_event_loop_lag_seconds',
    help: 'Event-loop delay since the last scrape (stat: mean, p99, max); a blocked loop delays heartbeats and lock renewals',
    labelNames: ['stat'],
    registers: [registry],
    collect() {
      this.set({ stat: 'mean' }, (Number.isNaN(lag.mean) ? 0 : lag.mean) / 1e9);
      this.set({ stat: 'p99' }, lag.percentile(99) / 1e9);
      this.set({ stat: 'max' }, lag.max / 1e9);
      lag.reset();
    },
  });
  new client.Gauge({
    name: 'tq_worker_memory_bytes',
    help: 'Memory of the worker process (kind: rss, heap_used, heap_total, external)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const m = process.memoryUsage();
      this.set({ kind: 'rss' }, m.rss);
      this.set({ kind: 'heap_used' }, m.heapUsed);
      this.set({ kind: 'heap_total' }, m.heapTotal);
      this.set({ kind: 'external' }, m.external);
    },
  });
  let cpuSeen = 0;
  const cpu = new client.Counter({
    name: 'tq_worker_cpu_seconds_total',
    help: 'CPU time of the worker process (user + system)',
    registers: [registry],
  });
  let seen = { processed: 0, failed: 0 };
  const processed = new client.Counter({
    name: 'tq_worker_runs_completed_total',
    help: 'Runs this worker completed',
    registers: [registry],
  });
  const failed = new client.Counter({
    name: 'tq_worker_runs_failed_total',
    help: 'Runs this worker ended failed, cancelled or expired',
    registers: [registry],
  });
  new client.Gauge({
    name: 'tq_worker_active_runs',
    help: 'Runs in progress in this worker',
    registers: [registry],
    collect() {
      const used = process.cpuUsage();
      const seconds = (used.user + used.system) / 1e6;
      cpu.inc(Math.max(0, seconds - cpuSeen));
      cpuSeen = seconds;
      const s = worker.stats();
      this.set(s.active);
      processed.inc(Math.max(0, s.processed - seen.processed));
      failed.inc(Math.max(0, s.failed - seen.failed));
      seen = { processed: s.processed, failed: s.failed };
    },
  });
  new client.Gauge({
    name: 'tq_worker_zombie_handlers',
    help: 'Handlers still running after their run ended (they ignored ctx.signal)',
    registers: [registry],
    collect() {
      this.set(worker.stats().zombies);
    },
  });
  new client.Gauge({
    name: 'tq_worker_last_fetch_timestamp_seconds',
    help: 'When this worker last took a run or found its queues empty',
    registers: [registry],
    collect() {
      this.set(worker.stats().lastFetchAt / 1000);
    },
  });

  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.get('/metrics', async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  app.get('/healthz', async () => ({ ok: true }));
  await app.listen(address);
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  return {
    url: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`,
    async close() {
      lag.disable();
      await app.close();
      registry.clear();
    },
  };
}
