// What tracing on demand misses against tracing always: the delay from a storm's start to the
// syscall tracepoints being armed, and the storm's mount syscalls made before that (never counted).
// Each round runs both modes, in turn: the exporter as a node runs it (a mount namespace of its
// own, the host's PID namespace, watching PID 1, 1 s sampling), 5 s quiet, then a sustained
// `mountstorm storm` (per-layer-idmap) in a namespace of its own, which the namespace walk finds.
// The storm's start is its own (--json-progress: elapsed seconds at each line); the arming is the
// exporter's log line. Counted is what mountstorm_mount_syscalls_total rose by over the storm;
// made is the storm report's exact syscall count (other processes' mount syscalls, on a quiet
// machine none, would count as counted).
// usage (root, after npm run build): node dist/bench/arming.js [rounds=3] [storm seconds=10] [concurrency=8] [layers=50]
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { StormReport } from '../src/storm/report';
import { median } from './stats';
import { REPO } from '../test/support/env';
import { firstChild, metricSum, serveInNamespace, sleep } from './proc';

const [rounds = 3, seconds = 10, concurrency = 8, layers = 50] = process.argv.slice(2).map(Number);
const cli = path.join(REPO, 'dist/src/cli.js');

type Mode = 'on-demand' | 'always';
interface Round {
  delayMs: number;
  made: number;
  counted: number;
  missed: number;
  reason: string | undefined;
}

async function round(mode: Mode, port: number): Promise<Round> {
  const exp = serveInNamespace(cli, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--sample.interval=1s',
    '--no-collector.containers',
    `--collector.tracefs.mode=${mode}`,
  ]);
  let log = '';
  exp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; !/msg="tracefs: tracing mount syscalls"/.test(log); i++) {
      if (i > 300) throw new Error(`the exporter did not start tracefs:\n${log}`);
      await sleep(50);
    }
    await sleep(5000);
    const before = await metricSum(url, 'mountstorm_mount_syscalls_total');
    const storm = spawn(
      process.execPath,
      [
        cli,
        'storm',
        '--json',
        '--json-progress',
        `--duration=${seconds}s`,
        `--concurrency=${concurrency}`,
        `--layers=${layers}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    storm.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let startWall: number | undefined;
    readline.createInterface({ input: storm.stderr }).on('line', (l) => {
      if (startWall !== undefined) return;
      try {
        startWall = Date.now() - (JSON.parse(l) as { elapsed: number }).elapsed * 1000;
      } catch {
        // not a progress line
      }
    });
    await new Promise((r) => storm.on('exit', r));
    await sleep(2500);
    const counted = (await metricSum(url, 'mountstorm_mount_syscalls_total')) - before;
    const report = JSON.parse(out) as StormReport;
    const made = Object.values(report.syscalls).reduce((a, b) => a + b, 0);
    const armed = /ts=(\S+) level=info msg="tracefs: armed/.exec(log);
    const delayMs =
      mode === 'always' ? 0 : armed?.[1] && startWall !== undefined ? Date.parse(armed[1]) - startWall : NaN;
    return {
      delayMs,
      made,
      counted,
      missed: Math.max(0, made - counted),
      reason: /tracefs: armed: a mount storm may be starting" reason="([^"]+)"/.exec(log)?.[1],
    };
  } finally {
    const node = firstChild(exp.pid as number);
    if (node) process.kill(Number(node), 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
  }
}

(async () => {
  const res: Record<Mode, Round[]> = { 'on-demand': [], always: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of (r % 2 === 0 ? ['on-demand', 'always'] : ['always', 'on-demand']) as Mode[]) {
      const x = await round(mode, 19880 + r);
      res[mode].push(x);
      process.stderr.write(
        `round ${r + 1} ${mode}: armed ${x.delayMs.toFixed(0)} ms after the storm began (${x.reason ?? '-'}), made ${x.made}, counted ${x.counted}, missed ${x.missed}\n`,
      );
    }
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(`Command: node dist/bench/arming.js ${rounds} ${seconds} ${concurrency} ${layers}`);
  console.log('');
  console.log(
    '| mode | storm start → armed (median, max) | mount syscalls the storm made (median) | counted ÷ made (median) | missed before arming (median) |',
  );
  console.log('|---|---|---|---|---|');
  for (const [mode, xs] of Object.entries(res)) {
    const d = xs.map((x) => x.delayMs);
    console.log(
      `| ${mode} | ${mode === 'always' ? '— (armed from the start)' : `${median(d).toFixed(0)} ms, ${Math.max(...d).toFixed(0)} ms`} | ${median(xs.map((x) => x.made)).toLocaleString('en')} | ${median(xs.map((x) => x.counted / x.made)).toFixed(4)} | ${median(xs.map((x) => x.missed)).toLocaleString('en')} |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
