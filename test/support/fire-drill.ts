/**
 * The fire drill: the exporter, Debian's real prometheus (scrape and evaluation every 5 s, the
 * shipped rules), Debian's real prometheus-alertmanager (the shipped config) pointed at a local
 * PagerDuty Events API v2 receiver, then a quiet window and a sustained `mountstorm storm` of the
 * same length. It measures seconds from storm start to the PagerDuty trigger, waits for the
 * resolve after the storm, and checks that the quiet window sent nothing.
 *
 * usage (root): npm run fire-drill -- [storm seconds, default 40] [concurrency, default 8] [layers, default 50]
 * The jest test test/e2e/fire-drill.test.ts runs the same function.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { StormReport } from '../../src/storm/report';
import { startAlertmanager } from './alertmanager';
import { CLI } from './env';
import { startExporter } from './exporter';
import { startPagerDuty, type PagerDutyEvent } from './pagerduty';
import { startPrometheus } from './prometheus';

export interface DrillOptions {
  stormSeconds: number;
  concurrency: number;
  layers: number;
  /** How long to wait for the resolve event after the storm ends. */
  resolveTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface DrillResult {
  options: DrillOptions;
  /** Events the receiver got during the quiet window (must be none). */
  quietEvents: PagerDutyEvent[];
  /** Seconds from storm start (the storm command spawned) to the first critical trigger. */
  onsetToPageSeconds: number | undefined;
  trigger: PagerDutyEvent | undefined;
  /** Seconds from the storm's end to the resolve event of that trigger's incident. */
  endToResolveSeconds: number | undefined;
  resolve: PagerDutyEvent | undefined;
  /** Events PagerDuty would have refused (400): must be none. */
  rejected: number;
  storm: StormReport | undefined;
  /** The alert rule values Prometheus saw at the page, for the record. */
  atPage: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(f: () => T | undefined | Promise<T | undefined>, deadline: number, everyMs = 200): Promise<T | undefined> {
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

export async function runFireDrill(options: DrillOptions): Promise<DrillResult> {
  const log = options.log ?? (() => undefined);
  const dir = fs.mkdtempSync(`${os.tmpdir()}/mountstorm-drill-`);
  const pd = await startPagerDuty();
  const am = await startAlertmanager(pd, dir);
  // As a hostPID DaemonSet runs: a mount namespace of its own, the host's PID namespace, defaults
  // (tracing on demand). The storm runs in a namespace of its own, which the namespace walk finds
  // and whose mount events it counts; the tracepoints are global.
  const exp = await startExporter(['--sample.interval=1s', '--no-collector.containers'], { ownMountNamespace: true });
  const prom = await startPrometheus({ dir, targets: [exp.url.replace('http://', '')], alertmanager: am.url });
  try {
    const up = await until(async () => ((await prom.query('up{job="mountstorm"} == 1')).length > 0 ? true : undefined), Date.now() + 20_000);
    if (!up) throw new Error('prometheus never scraped the exporter');
    log(`prometheus ${prom.url} scrapes ${exp.url} every 5 s; alertmanager ${am.url}; pagerduty receiver ${pd.url}`);

    log(`quiet window: ${options.stormSeconds} s`);
    await sleep(options.stormSeconds * 1000);
    const quietEvents = [...pd.events];

    log(`storm: per-layer-idmap, ${options.layers} layers, concurrency ${options.concurrency}, ${options.stormSeconds} s`);
    const start = Date.now();
    const child = spawn(process.execPath, [CLI, 'storm', '--json', '--no-progress', `--duration=${options.stormSeconds}s`, `--concurrency=${options.concurrency}`, `--layers=${options.layers}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const stormDone = new Promise<number>((resolve) => child.on('exit', () => resolve(Date.now())));
    const isPage = (e: PagerDutyEvent) => e.event_action === 'trigger' && e.payload?.severity === 'critical' && e.receivedAt >= start;
    const trigger = await until(() => pd.events.find(isPage), start + (options.stormSeconds + 30) * 1000);
    const atPage: Record<string, string> = {};
    if (trigger) {
      log(`page: ${trigger.payload?.component} after ${((trigger.receivedAt - start) / 1000).toFixed(1)} s: ${trigger.payload?.summary}`);
      for (const r of ['instance:mountstorm_mount_syscalls:rate30s', 'instance:mountstorm_mounts_added:rate30s', 'instance:mountstorm_mount_lock_wait_seconds:rate30s', 'instance:mountstorm_lock_wait_estimate_seconds:max']) {
        atPage[r] = (await prom.query(r)).map((s) => `${s.metric.lock ?? ''}${s.metric.lock ? '=' : ''}${Number(s.value[1]).toPrecision(3)}`).join(' ') || 'none';
      }
    }
    const end = await stormDone;
    let storm: StormReport | undefined;
    try {
      storm = JSON.parse(out) as StormReport;
    } catch {
      storm = undefined;
    }
    log(`storm ended after ${((end - start) / 1000).toFixed(1)} s (${storm ? `${storm.operations} mount operations, ${Math.round(storm.operationsPerSecond)}/s` : 'no report'}); waiting for the resolve`);
    const resolve = trigger
      ? await until(() => pd.events.find((e) => e.event_action === 'resolve' && e.dedup_key === trigger.dedup_key), end + (options.resolveTimeoutSeconds ?? 180) * 1000, 500)
      : undefined;
    if (resolve) log(`resolve: ${((resolve.receivedAt - end) / 1000).toFixed(1)} s after the storm ended`);
    return {
      options,
      quietEvents,
      onsetToPageSeconds: trigger ? (trigger.receivedAt - start) / 1000 : undefined,
      trigger,
      endToResolveSeconds: resolve ? (resolve.receivedAt - end) / 1000 : undefined,
      resolve,
      rejected: pd.rejected.length,
      storm,
      atPage,
    };
  } finally {
    await prom.stop();
    am.proc.kill('SIGTERM');
    await exp.stop('SIGTERM');
    await pd.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [secs = '40', concurrency = '8', layers = '50'] = process.argv.slice(2);
  const opts: DrillOptions = { stormSeconds: Number(secs), concurrency: Number(concurrency), layers: Number(layers), log: (l) => process.stdout.write(`fire-drill: ${l}\n`) };
  runFireDrill(opts).then(
    (r) => {
      const ok = r.quietEvents.length === 0 && r.onsetToPageSeconds !== undefined && r.onsetToPageSeconds < 30 && r.resolve !== undefined && r.rejected === 0;
      process.stdout.write(
        `\nmachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}\n` +
          `quiet window (${opts.stormSeconds} s): ${r.quietEvents.length} PagerDuty events\n` +
          `onset to page: ${r.onsetToPageSeconds?.toFixed(1) ?? 'never'} s (budget 30 s) — ${r.trigger?.payload?.component ?? '-'}\n` +
          `rule values at the page: ${JSON.stringify(r.atPage)}\n` +
          `storm end to resolve: ${r.endToResolveSeconds?.toFixed(1) ?? 'never'} s\n` +
          `${ok ? 'PASS' : 'FAIL'}\n`,
      );
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`fire-drill: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(2);
    },
  );
}
