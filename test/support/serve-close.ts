/**
 * Starts the exporter in-process with the given flags, lets it sample, closes it, and reports what
 * is still alive: the process must then end by itself (no process.exit here), which proves close()
 * stopped every server, timer, watcher and worker. Prints {closeMs, left, tracefsInstances}.
 * usage: node serve-close.js [exporter flags]
 */
import * as fs from 'node:fs';
import { loadConfig, parseArgs } from '../../src/config';
import { Logger } from '../../src/log';
import { serve } from '../../src/main';

void (async () => {
  const config = loadConfig(parseArgs(process.argv.slice(2)), {});
  const running = await serve(config, new Logger('error'));
  // Two samples taken: every collector has run, its workers and watchers started.
  await new Promise<void>((resolve) => {
    let n = 0;
    running.sampler.onSample(() => ++n === 2 && resolve());
  });
  const t = Date.now();
  await running.close();
  const closeMs = Date.now() - t;
  // A closed server's or watcher's handle goes once libuv has run its close callback, a loop turn or
  // more after close() resolved (later on a loaded machine): look until none is left, or for 2 s.
  const alive = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
  for (let i = 0; i < 100 && alive().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const left = alive();
  let tracefsInstances: string[] | null = null;
  try {
    tracefsInstances = fs.readdirSync('/sys/kernel/tracing/instances').filter((n) => n.startsWith('mountstorm-'));
  } catch {
    // no tracefs in this namespace (it was ours and is unmounted)
  }
  process.stdout.write(JSON.stringify({ closeMs, left, tracefsInstances }) + '\n');
})();
