/**
 * Soak: the exporter (own mount + PID namespace, tracefs on, 1 s sampling) through a quiet window
 * and then a sustained storm. Every 5 s it records RSS, heap, event-loop delay p99, samples and
 * overruns; it reports the RSS slope over the storm's second half (after warm-up), the worst
 * event-loop p99 against the quiet window's, and samples completed against ticks elapsed.
 * Run long by bench/soak.ts (node dist/bench/soak.js); the tests run a short one.
 */
import { spawn } from 'node:child_process';
import { CLI } from './env';
import { startExporter } from './exporter';
import { sum } from './metrics';

export interface SoakPoint {
  t: number;
  rssMiB: number;
  heapMiB: number;
  loopP99: number;
  samples: number;
  overruns: number;
  lost: number;
}
export interface SoakResult {
  quietSeconds: number;
  stormSeconds: number;
  points: SoakPoint[];
  rssStartMiB: number;
  rssEndMiB: number;
  /** Least-squares slope of RSS over the storm's second half, MiB per minute. */
  rssSlopeMiBPerMin: number;
  loopP99QuietMax: number;
  loopP99StormMax: number;
  /** Samples completed during the storm ÷ sample ticks elapsed. */
  sampleRatio: number;
  overruns: number;
  traceEventsLost: number;
  stormOpsPerSecond: number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function soak(opts: {
  quietSeconds: number;
  stormSeconds: number;
  concurrency: number;
  everyMs?: number;
  log?: (l: string) => void;
}): Promise<SoakResult> {
  const every = opts.everyMs ?? 5000;
  const exp = await startExporter(
    ['--sample.interval=1s', '--no-collector.containers', '--collector.tracefs.mode=always'],
    { privateNamespaces: true },
  );
  const points: SoakPoint[] = [];
  const t0 = Date.now();
  const record = async () => {
    const m = await exp.metrics();
    const p: SoakPoint = {
      t: (Date.now() - t0) / 1000,
      rssMiB: sum(m, 'process_resident_memory_bytes') / 1048576,
      heapMiB: sum(m, 'process_heap_bytes') / 1048576,
      loopP99: sum(m, 'mountstorm_event_loop_delay_p99_seconds'),
      samples: sum(m, 'mountstorm_samples_total'),
      overruns: sum(m, 'mountstorm_sample_overruns_total'),
      lost: sum(m, 'mountstorm_trace_events_lost_total'),
    };
    points.push(p);
    opts.log?.(
      `t=${p.t.toFixed(0)}s rss=${p.rssMiB.toFixed(1)}MiB heap=${p.heapMiB.toFixed(1)}MiB loop_p99=${(p.loopP99 * 1e3).toFixed(1)}ms samples=${p.samples} overruns=${p.overruns}`,
    );
    return p;
  };
  try {
    await record();
    while ((Date.now() - t0) / 1000 < opts.quietSeconds) {
      await sleep(every);
      await record();
    }
    const quiet = [...points];
    const stormStart = await record();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'storm',
        '--json',
        '--no-progress',
        `--duration=${opts.stormSeconds}s`,
        `--concurrency=${opts.concurrency}`,
        '--layers=50',
        '--hold=5s',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<void>((r) => child.on('exit', () => r()));
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      await sleep(every);
      await record();
    }
    const end = points[points.length - 1] as SoakPoint;
    const storm = points.filter((p) => p.t >= stormStart.t);
    const half = storm.filter((p) => p.t >= stormStart.t + (end.t - stormStart.t) / 2);
    let ops: number | undefined;
    try {
      ops = (JSON.parse(out) as { operationsPerSecond: number }).operationsPerSecond;
    } catch {
      ops = undefined;
    }
    return {
      quietSeconds: opts.quietSeconds,
      stormSeconds: opts.stormSeconds,
      points,
      rssStartMiB: stormStart.rssMiB,
      rssEndMiB: end.rssMiB,
      rssSlopeMiBPerMin: slope(
        half.map((p) => p.t / 60),
        half.map((p) => p.rssMiB),
      ),
      loopP99QuietMax: Math.max(...quiet.map((p) => p.loopP99)),
      loopP99StormMax: Math.max(...storm.map((p) => p.loopP99)),
      sampleRatio: (end.samples - stormStart.samples) / Math.max(1, end.t - stormStart.t),
      overruns: end.overruns - stormStart.overruns,
      traceEventsLost: end.lost - stormStart.lost,
      stormOpsPerSecond: ops,
    };
  } finally {
    await exp.stop('SIGTERM');
  }
}

if (require.main === module || process.argv[1]?.endsWith('bench/soak.js')) {
  const [stormSeconds = '600', concurrency = '8', quietSeconds = '30'] = process.argv.slice(2);
  void soak({
    quietSeconds: Number(quietSeconds),
    stormSeconds: Number(stormSeconds),
    concurrency: Number(concurrency),
    log: (l) => process.stderr.write(`soak: ${l}\n`),
  }).then((r) => {
    const { points, ...summary } = r;
    void points;
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  });
}
