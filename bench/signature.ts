// The figures behind the storm signature's thresholds: mount work per container start, start rate
// and lock wait, for each storm mode at 1, 4 and 8 starts at a time. The exporter runs as a node
// runs it (its own mount namespace, tracing always on so every syscall counts, 1 s samples, the
// containers collector watching a task directory); each run is `mountstorm storm --duration`
// with --task-dir, so each start is a bundle the collector counts as containerd's. Figures are the
// exporter's own counters over the run (its /metrics before and after), and the lock-wait probe's
// highest estimate while it ran. The modes alternate, so drift hits both alike.
// Modes are the drill's, per-cpu-masks:N for the per-CPU masks of an N-CPU host (--cpus=N), and
// namespace-copy:N for new mount namespaces copying a table of N mounts (--table=N). Time inside
// mount-family syscalls (their duration histogram's sum) is the mount work in seconds; the part of
// it inside unshare(CLONE_NEWNS) is the namespace copies'.
// usage (root, after npm run build): node dist/bench/signature.js [seconds=10] [layers=50] [rounds=1] [concurrencies=1,4,8] [rate=0]
//   [modes=per-layer-idmap,common-parent-idmap]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './stats';
import { REPO } from '../test/support/env';
import type { StormReport } from '../src/storm/report';
import { cpuSeconds, firstChild, serveInNamespace, sleep } from './proc';

const args = process.argv.slice(2);
const seconds = Number(args[0] ?? 10);
const layers = Number(args[1] ?? 50);
const rounds = Number(args[2] ?? 1);
const concurrencies = (args[3] ?? '1,4,8').split(',').map(Number);
const rate = args[4] ?? '0';
const modeList = (args[5] ?? 'per-layer-idmap,common-parent-idmap').split(',');
const cli = path.join(REPO, 'dist/src/cli.js');

function sum(text: string, name: string, filter: (labels: string) => boolean = () => true): number {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm')))
    if (filter(m[1] ?? '')) n += Number(m[2]);
  return n;
}

type Figures = Record<
  'starts' | 'syscalls' | 'made' | 'idmaps' | 'events' | 'lockWait' | 'lost' | 'ns' | 'work' | 'copy' | 'copyWait',
  number
>;

async function figures(url: string): Promise<Figures> {
  const t = await (await fetch(`${url}/metrics`)).text();
  return {
    starts: sum(t, 'mountstorm_container_starts_total'),
    syscalls: sum(t, 'mountstorm_mount_syscalls_total'),
    made: sum(t, 'mountstorm_mounts_created_total'),
    idmaps: sum(t, 'mountstorm_mount_syscalls_total', (l) => l.includes('syscall="mount_setattr"')),
    events: sum(t, 'mountstorm_mount_events_total'),
    lockWait: sum(t, 'mountstorm_mount_lock_wait_seconds_total'),
    lost: sum(t, 'mountstorm_trace_events_lost_total'),
    ns: sum(t, 'mountstorm_lock_wait_estimate_seconds', (l) => l.includes('lock="namespace_sem"')),
    work: sum(t, 'mountstorm_mount_syscall_duration_seconds_sum'),
    copy: sum(t, 'mountstorm_mount_syscall_duration_seconds_sum', (l) => l.includes('syscall="unshare"')),
    copyWait: sum(t, 'mountstorm_mount_lock_wait_seconds_total', (l) => l.includes('syscall="unshare"')),
  };
}

interface Run {
  containers: number;
  starts: number;
  startsPerSecond: number;
  syscallsPerStart: number;
  /** New mounts made per start (each attached and detached: two table changes). */
  madePerStart: number;
  eventsPerStart: number;
  idmapsPerStart: number;
  lockWaitPerSecond: number;
  /** Seconds inside mount-family syscalls per start, and of them inside unshare(CLONE_NEWNS); the first per second. */
  workPerStart: number;
  copyPerStart: number;
  /** Of the time inside unshare per start, the lock wait: the rest is the copy holding namespace_sem. */
  copyWaitPerStart: number;
  workPerSecond: number;
  nsMax: number;
  lost: number;
  /** The exporter's CPU (every thread) per second of the storm. */
  exporterCpu: number;
}

/** The exporter's PID, once unshare has started it. */
let exporterPid = 0;

async function run(url: string, taskDir: string, mode: string, concurrency: number): Promise<Run> {
  const before = await figures(url);
  const cpu0 = cpuSeconds(exporterPid);
  const t0 = Date.now();
  const storm = spawn(
    process.execPath,
    [
      cli,
      'storm',
      '--json',
      '--no-progress',
      `--mode=${mode.split(':')[0]}`,
      ...(mode.startsWith('per-cpu-masks:') ? [`--cpus=${mode.split(':')[1]}`, '--hold=1s'] : []),
      ...(mode.startsWith('namespace-copy:') ? [`--table=${mode.split(':')[1]}`] : []),
      `--duration=${seconds}s`,
      `--concurrency=${concurrency}`,
      `--layers=${layers}`,
      `--rate=${rate}`,
      `--task-dir=${taskDir}`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  storm.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let nsMax = 0;
  let done = false;
  const exited = new Promise<void>((r) =>
    storm.on('exit', () => {
      done = true;
      r();
    }),
  );
  while (!done) {
    nsMax = Math.max(nsMax, (await figures(url)).ns);
    await sleep(1000);
  }
  await exited;
  const wall = (Date.now() - t0) / 1000;
  const exporterCpu = (cpuSeconds(exporterPid) - cpu0) / wall;
  await sleep(2500); // two samples: the last starts and events are in the counters
  const after = await figures(url);
  const d = Object.fromEntries(
    (Object.keys(before) as Array<keyof Figures>).map((k) => [k, after[k] - before[k]]),
  ) as Figures;
  const report = JSON.parse(out) as StormReport;
  return {
    containers: report.containers,
    starts: d.starts,
    startsPerSecond: d.starts / wall,
    syscallsPerStart: d.syscalls / d.starts,
    madePerStart: d.made / d.starts,
    eventsPerStart: d.events / d.starts,
    idmapsPerStart: d.idmaps / d.starts,
    lockWaitPerSecond: d.lockWait / wall,
    workPerStart: d.work / d.starts,
    copyPerStart: d.copy / d.starts,
    copyWaitPerStart: d.copyWait / d.starts,
    workPerSecond: d.work / wall,
    nsMax,
    lost: d.lost,
    exporterCpu,
  };
}

(async () => {
  const taskDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-sig-tasks-'));
  const port = 19990;
  const url = `http://127.0.0.1:${port}`;
  const exp = serveInNamespace(cli, [
    `--web.listen-address=127.0.0.1:${port}`,
    '--sample.interval=1s',
    '--collector.tracefs.mode=always',
    `--collector.containers.task-dir=${taskDir}`,
  ]);
  let log = '';
  exp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const res: Record<string, Run[]> = {};
  try {
    for (let i = 0; !/msg="watching container runtime directory"/.test(log); i++) {
      if (i > 400) throw new Error(`the exporter did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(3000);
    exporterPid = firstChild(exp.pid as number) as number;
    for (let r = 0; r < rounds; r++) {
      for (const c of concurrencies) {
        const modes = r % 2 === 0 ? modeList : [...modeList].reverse();
        for (const mode of modes) {
          const x = await run(url, taskDir, mode, c);
          (res[`${mode} ${c}`] ??= []).push(x);
          process.stderr.write(
            `round ${r + 1} ${mode} ×${c}: ${x.starts} starts (${x.containers} made), ${x.startsPerSecond.toFixed(1)}/s, ${x.syscallsPerStart.toFixed(1)} syscalls/start, ${x.madePerStart.toFixed(1)} mounts made/start, ${x.eventsPerStart.toFixed(1)} events/start, ${x.idmapsPerStart.toFixed(1)} idmaps/start, lock wait ${x.lockWaitPerSecond.toFixed(3)} s/s, in mount syscalls ${(x.workPerStart * 1000).toFixed(2)} ms/start (unshare ${(x.copyPerStart * 1000).toFixed(2)}, lock wait ${(x.copyWaitPerStart * 1000).toFixed(2)}), ${x.workPerSecond.toFixed(3)} s/s, ns max ${(x.nsMax * 1000).toFixed(2)} ms, lost ${x.lost}, exporter CPU ${(x.exporterCpu * 1000).toFixed(0)} ms/s\n`,
          );
          await sleep(3000);
        }
      }
    }
  } finally {
    const node = firstChild(exp.pid as number);
    if (node) process.kill(Number(node), 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
    fs.rmSync(taskDir, { recursive: true, force: true });
  }
  console.log(
    `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(
    `Command: node dist/bench/signature.js ${seconds} ${layers} ${rounds} ${concurrencies.join(',')} ${rate} ${modeList.join(',')}`,
  );
  console.log('');
  console.log(
    '| mode | starts at a time | starts/s | mount syscalls per start | new mounts made per start | mounts attached + detached per start | idmapped mounts per start | measured lock wait (s/s) | time in mount syscalls per start (of it in unshare) | time in mount syscalls (s/s) | namespace_sem estimate, max | trace events lost | exporter CPU per storm second |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [k, xs] of Object.entries(res)) {
    const [mode, c] = k.split(' ');
    const m = (f: (x: Run) => number) => median(xs.map(f));
    console.log(
      `| ${mode} | ${c} | ${m((x) => x.startsPerSecond).toFixed(1)} | ${m((x) => x.syscallsPerStart).toFixed(0)} | ${m((x) => x.madePerStart).toFixed(0)} | ${m((x) => x.eventsPerStart).toFixed(0)} | ${m((x) => x.idmapsPerStart).toFixed(0)} | ${m((x) => x.lockWaitPerSecond).toFixed(3)} | ${(m((x) => x.workPerStart) * 1000).toFixed(2)} ms (${(m((x) => x.copyPerStart) * 1000).toFixed(2)} ms) | ${m((x) => x.workPerSecond).toFixed(3)} | ${(m((x) => x.nsMax) * 1000).toFixed(2)} ms | ${m((x) => x.lost)} | ${(m((x) => x.exporterCpu) * 1000).toFixed(0)} ms |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
