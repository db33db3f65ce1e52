/**
 * The fire drill: the exporter as a node runs it, Debian's real prometheus (the shipped rules,
 * scraping every 5 s or every 30 s), Debian's real prometheus-alertmanager (the shipped config)
 * pointed at a local PagerDuty Events API v2 receiver; then a quiet window (optionally with normal
 * container churn: common-parent starts, as the fixed runtime makes them) and a sustained
 * `mountstorm storm` whose every container start is a bundle in the task directory the exporter's
 * containers collector watches, as containerd's are. With nodePush the exporter posts its own
 * alerts to the Alertmanager (--alertmanager.url).
 *
 * It records when the storm began (the storm's first container start, from its --json-progress
 * clock), every PagerDuty event, the node's and Prometheus's alerts, and when the storm ended.
 *
 * usage (root): npm run fire-drill -- [--node-push] [--scrape=30s] [--mode=per-layer-idmap] [--rate=0]
 *   [--seconds=30] [--concurrency=8] [--layers=50] [--quiet-churn=2]
 * The jest tests in test/e2e/fire-drill.test.ts run the same function.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { DEFAULT_ALERTS_CONFIG } from '../../src/alerts/config';

import type { StormReport } from '../../src/storm/report';
import { freePort, startAlertmanager } from './alertmanager';
import { CLI } from './env';
import { startExporter } from './exporter';
import { startPagerDuty, type PagerDutyEvent } from './pagerduty';
import { startPrometheus } from './prometheus';
import { signal } from '../../src/alerts/signals';

export interface DrillOptions {
  stormSeconds: number;
  quietSeconds?: number;
  mode?: 'per-layer-idmap' | 'common-parent-idmap';
  concurrency: number;
  layers: number;
  /** Container starts per second (0: as fast as the threads go). */
  rate?: number;
  /** Common-parent container starts per second during the quiet window (0: none). */
  quietChurn?: number;
  scrapeInterval?: '5s' | '30s';
  nodePush?: boolean;
  /** The rules Prometheus loads (default: the shipped alerts/mountstorm.rules.yaml). */
  rulesFile?: string;
  /** How long to wait for the resolve after the storm ends; 0 to not wait. */
  resolveTimeoutSeconds?: number;
  log?: (line: string) => void;
}

export interface DrillResult {
  options: DrillOptions;
  /** PagerDuty events during the quiet window (must be none). */
  quietEvents: PagerDutyEvent[];
  /** Every PagerDuty event from the storm's start on. */
  stormEvents: PagerDutyEvent[];
  /** Seconds from the storm's first container start to the first critical trigger. */
  onsetToPageSeconds: number | undefined;
  trigger: PagerDutyEvent | undefined;
  /** Distinct incidents (dedup keys) the page service was triggered with from the storm's start on. */
  pageIncidents: string[];
  endToResolveSeconds: number | undefined;
  resolve: PagerDutyEvent | undefined;
  rejected: number;
  storm: StormReport | undefined;
  /** Node alerts that fired, from the exporter's own log. */
  nodeAlerts: string[];
  /** Alerts Prometheus had firing at any time (ALERTS series), by name. */
  prometheusAlerts: string[];
  /** The node's recording-rule values Prometheus saw at the page. */
  atPage: Record<string, string>;
  /** The rule values that decided it: at the page, else the last Prometheus had while the storm ran. */
  decidedBy: Record<string, string>;
  /** mountstorm_alertmanager_up as Prometheus last scraped it (node push only). */
  alertmanagerUp?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  f: () => T | undefined | Promise<T | undefined>,
  deadline: number,
  everyMs = 200,
): Promise<T | undefined> {
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

/** A storm with --task-dir; resolves its start (Unix ms of the first container start) and its end and report. */
function storm(
  args: string[],
  taskDir: string,
): { started: Promise<number>; done: Promise<{ end: number; report: StormReport | undefined }>; stop(): void } {
  const child = spawn(process.execPath, [CLI, 'storm', '--json', '--json-progress', `--task-dir=${taskDir}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let markStart: (t: number) => void = () => undefined;
  const started = new Promise<number>((r) => (markStart = r));
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    try {
      const p = JSON.parse(l) as { done: number; elapsed: number };
      // The storm's clock starts with its first container; elapsed is measured from there.
      if (p.done > 0 || p.elapsed > 0) markStart(Date.now() - p.elapsed * 1000);
    } catch {
      process.stderr.write(`storm: ${l}\n`);
    }
  });
  const done = new Promise<{ end: number; report: StormReport | undefined }>((resolve) =>
    child.on('exit', () => {
      let report: StormReport | undefined;
      try {
        report = JSON.parse(out) as StormReport;
      } catch {
        report = undefined;
      }
      resolve({ end: Date.now(), report });
    }),
  );
  return { started, done, stop: () => child.kill('SIGTERM') };
}

export async function runFireDrill(options: DrillOptions): Promise<DrillResult> {
  const log = options.log ?? (() => undefined);
  const mode = options.mode ?? 'per-layer-idmap';
  const scrape = options.scrapeInterval ?? '5s';
  const quietSeconds = options.quietSeconds ?? options.stormSeconds;
  const dir = fs.mkdtempSync(`${os.tmpdir()}/mountstorm-drill-`);
  const taskDir = path.join(dir, 'tasks');
  fs.mkdirSync(taskDir);
  const pd = await startPagerDuty();
  const am = await startAlertmanager(pd, dir);
  // As a hostPID DaemonSet runs: a mount namespace of its own, the host's PID namespace, defaults
  // (tracing on demand). The storm runs in a namespace of its own, which the namespace walk finds
  // and whose mount events it counts; the tracepoints are global. Its instance label is the
  // Prometheus target's, so the node's alerts carry the label set of the rule's.
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;
  const push = options.nodePush ? [`--alertmanager.url=${am.url}`, `--alertmanager.instance=${instance}`] : [];
  const exp = await startExporter(
    ['--sample.interval=1s', `--web.listen-address=${instance}`, `--collector.containers.task-dir=${taskDir}`, ...push],
    { ownMountNamespace: true },
  );
  const prom = await startPrometheus({
    dir,
    targets: [instance],
    alertmanager: am.url,
    scrapeInterval: scrape,
    rules: options.rulesFile,
  });
  let churn: ReturnType<typeof storm> | undefined;
  try {
    const up = await until(
      async () => ((await prom.query('up{job="mountstorm"} == 1')).length > 0 ? true : undefined),
      Date.now() + 90_000,
      500,
    );
    if (!up) throw new Error('prometheus never scraped the exporter');
    log(
      `prometheus ${prom.url} scrapes ${exp.url} every ${scrape}; alertmanager ${am.url}${options.nodePush ? ' (the node posts its own alerts to it)' : ''}; pagerduty receiver ${pd.url}`,
    );

    log(
      `quiet window: ${quietSeconds} s${options.quietChurn ? `, ${options.quietChurn} common-parent container starts per second` : ''}`,
    );
    const quietStart = Date.now();
    if (options.quietChurn)
      churn = storm(
        [
          '--mode=common-parent-idmap',
          `--rate=${options.quietChurn}`,
          '--concurrency=1',
          `--layers=${options.layers}`,
          `--duration=${quietSeconds}s`,
        ],
        taskDir,
      );
    await sleep(quietSeconds * 1000);
    if (churn) await churn.done;
    churn = undefined;
    const quietEvents = pd.events.filter((e) => e.receivedAt >= quietStart);

    log(
      `storm: ${mode}, ${options.layers} layers, concurrency ${options.concurrency}${options.rate ? `, ${options.rate} starts/s` : ''}, ${options.stormSeconds} s`,
    );
    const spawned = Date.now();
    const s = storm(
      [
        `--mode=${mode}`,
        `--duration=${options.stormSeconds}s`,
        `--concurrency=${options.concurrency}`,
        `--layers=${options.layers}`,
        `--rate=${options.rate ?? 0}`,
      ],
      taskDir,
    );
    const start = await Promise.race([s.started, sleep(30_000).then(() => spawned)]);
    const isPage = (e: PagerDutyEvent) =>
      e.event_action === 'trigger' && e.routing_key === am.keys.page && e.receivedAt >= spawned;
    let ended = false;
    const stormEnded = s.done.then((d) => {
      ended = true;
      return d.end;
    });
    // The recording rules the page reads, as Prometheus has them now: taken at the page, and every
    // few seconds while the storm runs, so a drill that does not page still says why.
    // The recording rules Prometheus loaded: the shipped ones (rendered for a 5 s scrape), or the
    // caller's file, rendered for its scrape interval (bench/page.ts).
    const cfg = { ...DEFAULT_ALERTS_CONFIG, scrapeIntervalMs: options.rulesFile && scrape === '30s' ? 30_000 : 5000 };
    const ruleValues = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const id of ['syscallsPerStart', 'eventsPerStart', 'startRate', 'lockWaitRate', 'nsEstimate']) {
        const r = signal(id).record(cfg);
        out[r] = (await prom.query(r)).map((x) => Number(x.value[1]).toPrecision(3)).join(' ') || 'none';
      }
      return out;
    };
    let duringStorm: Record<string, string> = {};
    let lastTaken = 0;
    const trigger = await until(
      async () => {
        const t = pd.events.find(isPage);
        if (!t && !ended && Date.now() - lastTaken > 3000) {
          lastTaken = Date.now();
          duringStorm = await ruleValues();
        }
        return t;
      },
      spawned + (options.stormSeconds + 20) * 1000,
    );
    const atPage: Record<string, string> = trigger ? await ruleValues() : {};
    if (trigger)
      log(
        `page: ${trigger.payload?.component} after ${((trigger.receivedAt - start) / 1000).toFixed(1)} s: ${trigger.payload?.summary}`,
      );
    const decidedBy = trigger ? atPage : duringStorm;
    log(
      `rule values ${trigger ? 'at the page' : 'last seen during the storm (no page)'}: ${JSON.stringify(decidedBy)}`,
    );
    const { end, report } = await s.done;
    log(
      `storm ended after ${((end - start) / 1000).toFixed(1)} s (${report ? `${report.containers} containers, ${report.operations} mount operations` : 'no report'})`,
    );
    const resolveWait = options.resolveTimeoutSeconds ?? 120;
    const resolve =
      trigger && resolveWait > 0
        ? await until(
            () =>
              pd.events.find(
                (e) => e.event_action === 'resolve' && e.dedup_key === trigger.dedup_key && e.receivedAt >= end,
              ),
            end + resolveWait * 1000,
            500,
          )
        : undefined;
    if (!trigger) await sleep(10_000); // a late page would still show
    if (resolve) log(`resolve: ${((resolve.receivedAt - end) / 1000).toFixed(1)} s after the storm ended`);
    await stormEnded;
    const fired = await prom.query(`count by (alertname) (max_over_time(ALERTS{alertstate="firing"}[15m]))`);
    const nodeAlerts = [...exp.logs().matchAll(/msg="node alert firing" alertname=(\w+)/g)].map((m) => m[1] as string);
    const amUp = options.nodePush ? await prom.query('max(mountstorm_alertmanager_up)') : [];
    return {
      options,
      quietEvents,
      stormEvents: pd.events.filter((e) => e.receivedAt >= spawned),
      onsetToPageSeconds: trigger ? (trigger.receivedAt - start) / 1000 : undefined,
      trigger,
      pageIncidents: [...new Set(pd.events.filter(isPage).map((e) => e.dedup_key ?? ''))],
      endToResolveSeconds: resolve ? (resolve.receivedAt - end) / 1000 : undefined,
      resolve,
      rejected: pd.rejected.length,
      storm: report,
      nodeAlerts,
      prometheusAlerts: fired.map((f) => f.metric.alertname as string),
      atPage,
      decidedBy,
      alertmanagerUp: amUp[0] ? Number(amUp[0].value[1]) : undefined,
    };
  } finally {
    churn?.stop();
    await prom.stop();
    am.proc.kill('SIGTERM');
    await exp.stop('SIGTERM');
    await pd.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function flag(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : process.argv.includes(`--${name}`) ? 'true' : def;
}

if (require.main === module) {
  const opts: DrillOptions = {
    stormSeconds: Number(flag('seconds', '30')),
    concurrency: Number(flag('concurrency', '8')),
    layers: Number(flag('layers', '50')),
    mode: flag('mode', 'per-layer-idmap') as DrillOptions['mode'],
    rate: Number(flag('rate', '0')),
    quietChurn: Number(flag('quiet-churn', '2')),
    scrapeInterval: flag('scrape', '5s') as DrillOptions['scrapeInterval'],
    nodePush: flag('node-push', 'false') === 'true',
    log: (l) => process.stdout.write(`fire-drill: ${l}\n`),
  };
  runFireDrill(opts).then(
    (r) => {
      const ok =
        r.quietEvents.length === 0 &&
        r.trigger !== undefined &&
        r.pageIncidents.length === 1 &&
        r.resolve !== undefined &&
        r.rejected === 0;
      process.stdout.write(
        `\nmachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}\n` +
          `path: ${opts.nodePush ? 'node push' : 'Prometheus'} (scrape ${opts.scrapeInterval})\n` +
          `quiet window: ${r.quietEvents.length} PagerDuty events\n` +
          `onset to page: ${r.onsetToPageSeconds?.toFixed(1) ?? 'never'} s (budget 30 s) — ${r.trigger?.payload?.component ?? '-'}; page incidents: ${r.pageIncidents.length}\n` +
          `node alerts fired: ${r.nodeAlerts.join(', ') || 'none'}; Prometheus alerts fired: ${r.prometheusAlerts.join(', ') || 'none'}\n` +
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
