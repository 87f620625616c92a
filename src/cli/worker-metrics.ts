import { RuntimeError, UsageError, errorMessage } from '../core/errors.js';

/** `--metrics-port` checked before the worker starts: `9464` or `host:port`. */
export async function metricsAddress(value: string | undefined): Promise<{ host: string; port: number } | undefined> {
  if (value === undefined) return undefined;
  const { parseMetricsAddress } = await import('../web/worker-metrics.js');
  const address = parseMetricsAddress(value);
  if (!address) throw new UsageError(`--metrics-port must be a port (9464) or host:port (0.0.0.0:9464) (got "${value}")`);
  return address;
}

/**
 * Serves a started worker's process metrics; when the port cannot be bound, the worker is
 * stopped again and the command fails with one line (a worker without the metrics it was asked
 * for would look healthy to nobody).
 */
export async function serveWorkerMetrics(
  worker: {
    name: string;
    stats(): { processed: number; failed: number; zombies: number; active: number; lastFetchAt: number };
    close(): Promise<unknown>;
  },
  value: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const address = (await metricsAddress(value))!;
  const { startWorkerMetrics } = await import('../web/worker-metrics.js');
  try {
    return await startWorkerMetrics(worker, address);
  } catch (err) {
    await worker.close();
    throw new RuntimeError('E_METRICS_PORT', `cannot serve worker metrics on ${address.host}:${address.port}: ${errorMessage(err)}`, {
      hint: 'pick another --metrics-port',
    });
  }
}
