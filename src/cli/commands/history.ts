import path from 'node:path';
import { UsageError } from '../../core/errors.js';
import { openStore, syncHistoryFrom } from '../../store/index.js';
import type { CliContext } from '../context.js';
import { jsonErrors } from '../output.js';

/**
 * `tq history sync --from OTHER.db`: fills this host's history (runs and image records) from
 * another host's file, after an outage longer than the run-event stream keeps. Needs no Redis.
 * Idempotent: a row moves only forward, so a second run changes nothing.
 */
export async function historySyncCommand(ctx: CliContext, opts: { from?: string; json?: boolean }): Promise<number> {
  return jsonErrors(ctx.out, opts.json, async () => {
    if (!opts.from) {
      throw new UsageError('history sync needs --from <file>', {
        hint: "tq history sync --from other-host.db (a copy of another host's database)",
      });
    }
    const config = await ctx.config();
    const settings = ctx.settings(config);
    const store = openStore(settings.dbFile);
    try {
      const report = syncHistoryFrom(store.db, path.resolve(ctx.cwd, opts.from), settings.prefix);
      if (opts.json) {
        ctx.out.json({ from: opts.from, into: settings.dbFile, ...report });
        return 0;
      }
      const { runs, images } = report;
      ctx.out.print(
        `runs: ${runs.inserted} added, ${runs.updated} moved forward, ${runs.filled} filled in, ${runs.unchanged} already current`,
      );
      ctx.out.print(`image records: ${images.inserted} added, ${images.updated} moved forward, ${images.unchanged} already current`);
      ctx.out.print(`into ${settings.dbFile}`);
      return 0;
    } finally {
      store.close();
    }
  });
}
