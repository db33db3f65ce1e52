// The exporter's memory on a big table during a storm (#32: at most 90 MiB at 100,000 mounts during
// one). One exporter on its defaults (`serve --mount.pid=self`, the containers collector watching
// the storm's task directory) in a private mount + PID namespace whose table holds TABLE mounts,
// one of them replaced twice a second throughout; beside it a bare Node HTTP server, started in the
// same run. After SETTLE s idle, two storms of test/support/bind-storm.py (WORKERS workers, each
// start a private mount namespace with BINDS bind mounts living LIFE s, a bundle in the watched task
// directory), SECONDS s each, one after the other:
//  - copying: its containers start from the big table's namespace, so each start copies all TABLE
//    mounts (a runtime on such a host: runc's init clones the host's namespace), namespace_sem held
//    for writing throughout, the exporter's own reads of the table waiting behind them;
//  - beside: its containers start from a namespace of ~30 mounts made before the table grew.
// Reported for each: the exporter's RSS before, its highest while the storm ran (read every 250 ms),
// VmHWM after, its event loop's worst p99 (mountstorm_event_loop_delay_p99_seconds), the starts, and
// whether and when it paged. Each --node-flags=F1,F2 runs another exporter through the same storms
// under those Node flags (V8's heap sizes, say), after the one on its defaults; each --nice=N another
// at that nice value (nice -n N: its threads' CPU weight against the storm's). --timeline: each
// storm's samples from its first start to the page (bench/proc.ts watchStormPage).
// #32's figure is at 100,000 mounts: on 2026-12-07's two vCPUs a 99,000-mount table took 8 minutes to
// build, and the copying storm on it left hundreds of tasks in D state; 20,000 is the default.
// usage (root, after npm run build): node dist/bench/storm-memory.js [table=20000] [seconds=30] [workers=8] [binds=100] [settle=20] [life=2] [--node-flags=…] [--nice=N] [--timeline]
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { spawnBindStorm } from '../test/support/bind-storm';
import { metricSums, pageFiredAt, rerunInPrivateNamespaces, sleep, started, stopProcess, watchStormPage } from './proc';
import { bigTable, mountCount } from './table';

const argv = process.argv.slice(2).filter((a) => a !== '--inner');
const timeline = argv.includes('--timeline');
const args = argv.filter((a) => !a.startsWith('--'));
/** Each --node-flags= another exporter arm, run under those Node flags (comma-separated). */
const nodeFlags = argv.filter((a) => a.startsWith('--node-flags=')).map((a) => a.slice(13).split(','));
const nices = argv.filter((a) => a.startsWith('--nice=')).map((a) => Number(a.slice(7)));
/** The exporters run, one after the other: on their defaults, under each --node-flags, at each --nice. */
const ARMS: Array<{ name: string; flags: string[]; nice?: number }> = [
  { name: 'defaults', flags: [] },
  ...nodeFlags.map((flags) => ({ name: flags.join(' '), flags })),
  ...nices.map((nice) => ({ name: `nice ${nice}`, flags: [], nice })),
];
const table = Number(args[0] ?? 20_000);
const seconds = Number(args[1] ?? 30);
const workers = Number(args[2] ?? 8);
const binds = Number(args[3] ?? 100);
const settle = Number(args[4] ?? 20);
const life = Number(args[5] ?? 2);
const CLI = path.join(REPO, 'dist/src/cli.js');

rerunInPrivateNamespaces(__filename, argv);

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

interface StormFigures {
  before: number;
  highest: number;
  hwm: number;
  loopP99: number;
  starts: number;
  /** The storm's first start (Unix seconds). */
  first: number;
  onsetToPage?: number;
}

/** Runs the bind storm to its end (`enter`: a process whose mount namespace it starts from), reading the exporter meanwhile. */
async function storm(name: string, exp: ChildProcess, url: string, dir: string, enter?: number): Promise<StormFigures> {
  const pid = exp.pid as number;
  const tasks = path.join(dir, 'tasks');
  const before = status(pid, 'VmRSS');
  const storm = spawnBindStorm({
    tasks,
    scratch: path.join(dir, `scratch-${name}`),
    workers,
    seconds,
    binds,
    life,
    stdout: 'pipe',
    enter,
  });
  let out = '';
  storm.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  storm.stderr?.pipe(process.stderr);
  const exited = new Promise<number | null>((r) => storm.on('exit', r));
  let highest = before;
  let loopP99 = 0;
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; !done; i++) {
    highest = Math.max(highest, status(pid, 'VmRSS'));
    if (i % 4 === 0) {
      const m = await metricSums(url, { loop: 'mountstorm_event_loop_delay_p99_seconds' }).catch(() => undefined);
      if (m) loopP99 = Math.max(loopP99, m.loop);
    }
    await sleep(250);
  }
  if ((await exited) !== 0) throw new Error(`the ${name} storm failed`);
  const res = JSON.parse(out.trim().split('\n').at(-1) as string) as { first: number; starts: number };
  await sleep(2500);
  return { before, highest, hwm: status(pid, 'VmHWM'), loopP99, starts: res.starts, first: res.first };
}

/** One exporter through both storms: its figures for each. */
async function arm(
  { name: armName, flags, nice }: (typeof ARMS)[number],
  dir: string,
  small: number,
  port: number,
): Promise<Array<[string, StormFigures]>> {
  const url = `http://127.0.0.1:${port}`;
  const exp = spawn(
    nice === undefined ? process.execPath : 'nice',
    [
      ...(nice === undefined ? [] : ['-n', String(nice), process.execPath]),
      ...flags,
      CLI,
      'serve',
      `--web.listen-address=127.0.0.1:${port}`,
      '--mount.pid=self',
      `--collector.containers.task-dir=${path.join(dir, 'tasks')}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  exp.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const results: Array<[string, StormFigures]> = [];
  try {
    await started(exp, /msg=listening/);
    await sleep(settle * 1000);
    for (const [name, enter] of [
      ['copying', undefined],
      ['beside', small],
    ] as const) {
      const pagedBefore = log.length;
      const watch = timeline ? watchStormPage(url) : undefined;
      const f = await storm(name, exp, url, dir, enter);
      const paged = pageFiredAt(log.slice(pagedBefore));
      f.onsetToPage = paged === undefined ? undefined : paged - f.first;
      if (watch)
        process.stderr.write(
          `${name}, from the first start:\n${await watch.stop(log.slice(pagedBefore), f.first, paged)}`,
        );
      results.push([name, f]);
      process.stderr.write(
        `${armName}, ${name}: ${f.starts} starts, RSS ${f.before.toFixed(1)} → highest ${f.highest.toFixed(1)} MiB (VmHWM ${f.hwm.toFixed(1)}), loop p99 ≤ ${(f.loopP99 * 1e3).toFixed(0)} ms, page ${f.onsetToPage?.toFixed(1) ?? 'never'}\n`,
      );
      // The page resolves and tracing disarms before the next storm.
      await sleep(settle * 1000);
    }
  } finally {
    await stopProcess(exp);
  }
  return results;
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-storm-memory-'));
  fs.mkdirSync(path.join(dir, 'tasks', 'k8s.io'), { recursive: true });
  // A namespace made before the table grows: the "beside" storm starts from its ~30 mounts.
  const small = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
  await sleep(500);
  const t = bigTable(table);
  const churn = t.churnApart(2);
  const mounts = mountCount();
  const bare = spawn(
    process.execPath,
    ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(0, () => console.log('up'))"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const results: Array<[string, Array<[string, StormFigures]>]> = [];
  let bareRss: number | undefined;
  try {
    await started(bare, /up/);
    for (const [i, a] of ARMS.entries()) results.push([a.name, await arm(a, dir, small.pid as number, 19_960 + i)]);
    bareRss = status(bare.pid as number, 'VmRSS');
  } finally {
    churn.stop();
    await stopProcess(bare);
    small.kill();
    t.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (bareRss === undefined) throw new Error('no RSS read');
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), kernel ${os.release()}, node ${process.version}; ${mounts} mounts, one replaced twice a second`,
  );
  console.log(
    `Command: node dist/bench/storm-memory.js ${[table, seconds, workers, binds, settle, life].join(' ')}${nodeFlags.map((f) => ` --node-flags=${f.join(',')}`).join('')}${nices.map((n) => ` --nice=${n}`).join('')}${timeline ? ' --timeline' : ''}\n`,
  );
  console.log(
    `| exporter | storm | starts/s | RSS before (MiB) | highest during (MiB) | VmHWM after (MiB) | highest ÷ bare Node (${bareRss.toFixed(1)} MiB) | event loop p99, worst | onset to page |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const [name, storms] of results)
    for (const [storm, f] of storms)
      console.log(
        `| ${name} | ${storm} | ${(f.starts / seconds).toFixed(1)} | ${f.before.toFixed(1)} | ${f.highest.toFixed(1)} | ${f.hwm.toFixed(1)} | ${(f.highest / bareRss).toFixed(2)} | ${(f.loopP99 * 1e3).toFixed(0)} ms | ${f.onsetToPage === undefined ? 'never' : `${f.onsetToPage.toFixed(1)} s`} |`,
      );
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
