// The exporter's event-loop delay during a storm with tracefs on, for this build and, with
// --baseline, for another build of mountstorm measured in the same run (rounds alternate which goes
// first). Each round: the exporter in a private mount namespace of its own (tracefs on, 200 ms
// sampling, watching its own namespace), 3 s quiet, then `mountstorm storm` sustained for the given
// seconds while /metrics is read after every sample; the storm's own report gives its rate.
// Reported per build: the p99 delay per sample interval (mountstorm_event_loop_delay_p99_seconds),
// its median and maximum over the storm, the exporter's CPU (every thread) per second of storm, and
// the storm's operations/s; the ratios are this build ÷ the baseline.
// usage (root, after npm run build):
//   node dist/bench/event-loop.js [seconds=15] [rounds=3] [--baseline=/path/to/other/checkout]
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StormReport } from '../src/storm/report';
import { median } from './stats';
import { REPO } from '../test/support/env';
import { cpuSeconds, firstChild, metricSum, serveInNamespace, sleep } from './proc';

const args = process.argv.slice(2);
const baseline = args.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
const [seconds = 15, rounds = 3] = args.filter((a) => !a.startsWith('--')).map(Number);
const builds = [
  { name: 'this build', root: REPO },
  ...(baseline ? [{ name: `baseline (${baseline})`, root: baseline }] : []),
];

interface Build {
  name: string;
  root: string;
}

async function round(build: Build, port: number): Promise<{ delays: number[]; opsPerSecond: number; cpu: number }> {
  const cli = path.join(build.root, 'dist/src/cli.js');
  const exp = serveInNamespace(cli, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--sample.interval=200ms',
    '--mount.pid=self',
    '--no-collector.containers',
  ]);
  let log = '';
  exp.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 200) throw new Error(`${build.name}: tracefs did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(3000);
    const delays: number[] = [];
    const node = firstChild(exp.pid as number) as number;
    const cpu0 = cpuSeconds(node);
    const t0 = process.hrtime.bigint();
    let last = await metricSum(url, 'mountstorm_samples_total');
    const storm = new Promise<StormReport>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          path.join(REPO, 'dist/src/cli.js'),
          'storm',
          '--json',
          '--no-progress',
          `--duration=${seconds}s`,
          '--concurrency=8',
          '--layers=50',
        ],
        { maxBuffer: 64 << 20 },
        (e, out) => (e ? reject(new Error(e.message, { cause: e })) : resolve(JSON.parse(out) as StormReport)),
      ),
    );
    let done = false;
    storm.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await sleep(50);
      const n = await metricSum(url, 'mountstorm_samples_total');
      if (n === last) continue;
      last = n;
      delays.push(await metricSum(url, 'mountstorm_event_loop_delay_p99_seconds'));
    }
    const report = await storm;
    const cpu = (cpuSeconds(node) - cpu0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    return { delays, opsPerSecond: report.operationsPerSecond, cpu };
  } finally {
    // unshare --fork ignores SIGTERM while it waits: stop the exporter itself, and unshare follows.
    const child = firstChild(exp.pid as number);
    if (child) process.kill(Number(child), 'SIGTERM');
    else exp.kill('SIGKILL');
    await new Promise((r) => exp.on('exit', r));
  }
}

(async () => {
  type Series = { medians: number[]; maxes: number[]; ops: number[]; cpu: number[] };
  const results = new Map(builds.map((b): [string, Series] => [b.name, { medians: [], maxes: [], ops: [], cpu: [] }]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? builds : [...builds].reverse();
    for (const b of order) {
      const x = await round(b, 19870 + r);
      const res = results.get(b.name) as Series;
      res.medians.push(median(x.delays));
      res.maxes.push(Math.max(...x.delays));
      res.ops.push(x.opsPerSecond);
      res.cpu.push(x.cpu);
      process.stderr.write(
        `round ${r + 1} ${b.name}: ${x.delays.length} samples, p99 delay median ${(median(x.delays) * 1e3).toFixed(1)} ms, max ${(Math.max(...x.delays) * 1e3).toFixed(1)} ms, storm ${Math.round(x.opsPerSecond)} ops/s, exporter CPU ${(x.cpu * 1e3).toFixed(0)} ms/s\n`,
      );
    }
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  console.log(`Machine: ${os.cpus().length} CPUs (${cpu}), kernel ${os.release()}, node ${process.version}`);
  console.log(
    `Command: node dist/bench/event-loop.js ${seconds} ${rounds}${baseline ? ` --baseline=${baseline}` : ''}`,
  );
  console.log('');
  console.log(
    '| build | rounds | event-loop p99 per interval, median over the storm (median of rounds) | max over the storm (worst round) | exporter CPU per storm second (median) | storm ops/s (median) |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const [name, r] of results)
    console.log(
      `| ${name} | ${rounds} | ${(median(r.medians) * 1e3).toFixed(2)} ms | ${(Math.max(...r.maxes) * 1e3).toFixed(1)} ms | ${(median(r.cpu) * 1e3).toFixed(0)} ms | ${Math.round(median(r.ops))} |`,
    );
  if (baseline) {
    const [a, b] = [...results.values()] as [Series, Series];
    console.log('');
    console.log(
      `Ratio this build ÷ baseline: median p99 ${(median(a.medians) / median(b.medians)).toFixed(2)}, worst max ${(Math.max(...a.maxes) / Math.max(...b.maxes)).toFixed(2)}, exporter CPU ${(median(a.cpu) / median(b.cpu)).toFixed(2)}, storm ops/s ${(median(a.ops) / median(b.ops)).toFixed(3)}`,
    );
    const paired = a.ops.map((x, i) => x / (b.ops[i] as number));
    console.log(
      `Storm ops/s, this build ÷ baseline, round by round: ${paired.map((x) => x.toFixed(2)).join(', ')} (median ${median(paired).toFixed(3)})`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
