// How the lock-wait probes and estimates move under a real storm. Starts the exporter (200 ms
// sampling, watching its own namespace), records 5 s quiet, then runs `mountstorm storm` sustained
// and records during it. Prints a Markdown table for BENCHMARKS.md.
// usage (root, after npm run build): node dist/bench/probe-under-storm.js [concurrency] [layers] [seconds]
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import * as os from 'node:os';
import { REPO } from '../test/support/env';
import type { StormReport } from '../src/storm/report';
import { firstChild, serveInNamespace, sleep } from './proc';

const concurrency = process.argv[2] ?? '16';
const layers = process.argv[3] ?? '50';
const seconds = Number(process.argv[4] ?? 8);
const cli = path.join(REPO, 'dist/src/cli.js');

type Scrape = Map<string, number>;

function parse(text: string): Scrape {
  const out: Scrape = new Map();
  for (const l of text.split('\n'))
    if (l && !l.startsWith('#')) {
      const i = l.lastIndexOf(' ');
      out.set(l.slice(0, i), Number(l.slice(i + 1)));
    }
  return out;
}
const BUCKETS = [
  '0.00001',
  '0.000025',
  '0.00005',
  '0.0001',
  '0.00025',
  '0.0005',
  '0.001',
  '0.0025',
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '0.5',
  '1',
  '2.5',
  '5',
  '10',
  '30',
  '60',
  '+Inf',
];
function quantile(a: Scrape, b: Scrape, probe: string, q: number): string {
  const get = (m: Scrape, le: string) =>
    m.get(`mountstorm_probe_duration_seconds_bucket{le="${le}",probe="${probe}"}`) ?? 0;
  const n = get(b, '+Inf') - get(a, '+Inf');
  for (const le of BUCKETS) if (get(b, le) - get(a, le) >= q * n) return le;
  return '+Inf';
}

void (async () => {
  // In a mount namespace of its own: where no tracefs is mounted the exporter mounts one.
  const exp = serveInNamespace(cli, [
    '--web.listen-address=127.0.0.1:19866',
    '--sample.interval=200ms',
    '--mount.pid=self',
    '--no-collector.containers',
  ]);
  exp.stderr.resume(); // its log is not read here
  await sleep(2000);
  const scrape = async () => parse(await (await fetch('http://127.0.0.1:19866/metrics')).text());
  const window = async (ms: number) => {
    const a = await scrape();
    let maxNs = 0,
      maxMl = 0;
    for (let t = 0; t < ms; t += 200) {
      await sleep(200);
      const m = await scrape();
      maxNs = Math.max(maxNs, m.get('mountstorm_lock_wait_estimate_seconds{lock="namespace_sem"}') ?? 0);
      maxMl = Math.max(maxMl, m.get('mountstorm_lock_wait_estimate_seconds{lock="mount_lock"}') ?? 0);
    }
    const b = await scrape();
    return { a, b, maxNs, maxMl };
  };
  const quiet = await window(5000);
  const storm = new Promise<StormReport | null>((r) =>
    execFile(
      process.execPath,
      [
        cli,
        'storm',
        '--json',
        '--no-progress',
        `--duration=${seconds}s`,
        '--hold=3s',
        `--layers=${layers}`,
        `--concurrency=${concurrency}`,
      ],
      { maxBuffer: 64 << 20 },
      (e, out) => r(e ? null : (JSON.parse(out) as StormReport)),
    ),
  );
  await sleep(1000);
  const during = await window((seconds - 2) * 1000);
  const report = await storm;
  // unshare --fork ignores SIGTERM while it waits: stop the exporter itself.
  const node = firstChild(exp.pid as number);
  if (node) process.kill(node, 'SIGTERM');
  console.log(
    `Machine: ${os.cpus().length} CPUs, kernel ${os.release()}; command: node dist/bench/probe-under-storm.js ${concurrency} ${layers} ${seconds}`,
  );
  console.log(
    `Storm: per-layer-idmap, ${report ? report.containers : '?'} containers x ${layers} layers, concurrency ${concurrency}, ${report ? Math.round(report.operationsPerSecond) : '?'} mount ops/s`,
  );
  console.log('');
  console.log(
    '| window | namespace_sem p50 ≤ | namespace_sem p99 ≤ | mount_lock p50 ≤ | mount_lock p99 ≤ | estimate max namespace_sem µs | estimate max mount_lock µs |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, w] of [
    ['quiet', quiet],
    ['storm', during],
  ] as const) {
    console.log(
      `| ${name} | ${quantile(w.a, w.b, 'namespace_sem', 0.5)} s | ${quantile(w.a, w.b, 'namespace_sem', 0.99)} s | ${quantile(w.a, w.b, 'mount_lock', 0.5)} s | ${quantile(w.a, w.b, 'mount_lock', 0.99)} s | ${(w.maxNs * 1e6).toFixed(0)} | ${(w.maxMl * 1e6).toFixed(1)} |`,
    );
  }
  const ratio = (during.maxNs || 0) / Math.max(quiet.maxNs, 1e-6);
  console.log('');
  console.log(`Ratio storm ÷ quiet of the namespace_sem estimate max: ${ratio.toFixed(1)}`);
})();
