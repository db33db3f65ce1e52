// Onset to the node's page on a storm mountstorm did not write: test/support/bind-storm.py
// (Python and libc, nothing of ours) forks "containers" that each unshare a private mount namespace
// and make BINDS bind mounts (~2 × BINDS table changes per start, as containerd 2.1.4's ~205 at 100),
// every start a CRI-annotated bundle in the task directory the exporter watches. The exporter runs as
// a node runs it (its own mount namespace, its defaults: 1 s samples, on-demand tracing), against the
// same with tracing always on, alternating, ROUNDS each. Onset: the storm's first start; page: the
// exporter's log line "node alert firing" for MountStormImminent (what it posts with
// --alertmanager.url). Reported per arm: onset to page, median and each, and ÷ always-on's in the
// same round.
// Each container lives LIFE seconds (0: it exits as soon as its mounts are made).
// --timeline: where onset to page goes, per round (bench/proc.ts watchStormPage): when tracing armed
// and which collectors timed out (the exporter's log), and each of its samples from the first start
// to the page as its landing page's state gave them (polled every 100 ms, each sample at the first
// poll that saw it): the page's phase and its condition's figures against their thresholds.
// usage (root, after npm run build): node dist/bench/independent-page.js [rounds=3] [seconds=20] [workers=8] [binds=100] [rate=20] [life=0] [--timeline]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO } from '../test/support/env';
import { median } from './stats';
import { firstChild, metricSums, pageFiredAt, runBindStorm, serveInNamespace, sleep, watchStormPage } from './proc';

const timeline = process.argv.includes('--timeline');
const args = process.argv.slice(2).filter((a) => a !== '--timeline');
const rounds = Number(args[0] ?? 3);
const seconds = Number(args[1] ?? 20);
const workers = Number(args[2] ?? 8);
const binds = Number(args[3] ?? 100);
const rate = Number(args[4] ?? 20);
const life = Number(args[5] ?? 0);
const cli = path.join(REPO, 'dist/src/cli.js');
const ARMS = { defaults: [] as string[], 'tracing always': ['--collector.tracefs.mode=always'] };
type Arm = keyof typeof ARMS;

interface Result {
  onsetToPage?: number;
  starts: number;
  /** The exporter's figures over the storm: per start, and lock wait per second. */
  syscallsPerStart: number;
  madePerStart: number;
  eventsPerStart: number;
  lockWait: number;
}

const FIGURES = {
  starts: 'mountstorm_container_starts_total',
  syscalls: 'mountstorm_mount_syscalls_total',
  made: 'mountstorm_mounts_created_total',
  events: 'mountstorm_mount_events_total',
  lockWait: 'mountstorm_mount_lock_wait_seconds_total',
} as const;
const figures = (url: string) => metricSums(url, FIGURES);

async function once(arm: Arm, port: number): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-indep-'));
  const tasks = path.join(dir, 'tasks');
  fs.mkdirSync(path.join(tasks, 'k8s.io'), { recursive: true });
  const exp = serveInNamespace(cli, [
    `--web.listen-address=127.0.0.1:${port}`,
    `--collector.containers.task-dir=${tasks}`,
    ...ARMS[arm],
  ]);
  let log = '';
  exp.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    for (let i = 0; !/msg="watching container runtime directory"/.test(log); i++) {
      if (i > 400) throw new Error(`the exporter did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(8000); // a quiet baseline for the probes
    const url = `http://127.0.0.1:${port}`;
    const before = await figures(url);
    let paged: number | undefined;
    const watch = timeline ? watchStormPage(url) : undefined;
    const r = await runBindStorm(
      { tasks, scratch: path.join(dir, 'scratch'), workers, seconds, binds, rate, life },
      () => (paged ??= pageFiredAt(log)),
    );
    if (watch) process.stderr.write(`${arm}, from the first start:\n${await watch.stop(log, r.first, paged)}`);
    await sleep(2500); // two samples: the storm's last starts and syscalls in the counters
    const after = await figures(url);
    const starts = after.starts - before.starts;
    return {
      onsetToPage: paged === undefined ? undefined : paged - r.first,
      starts: r.starts,
      syscallsPerStart: (after.syscalls - before.syscalls) / starts,
      madePerStart: (after.made - before.made) / starts,
      eventsPerStart: (after.events - before.events) / starts,
      lockWait: (after.lockWait - before.lockWait) / seconds,
    };
  } finally {
    const node = firstChild(exp.pid as number);
    if (node) process.kill(node, 'SIGTERM');
    await new Promise((r) => exp.on('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const res: Record<Arm, Result[]> = { defaults: [], 'tracing always': [] };
  for (let r = 0; r < rounds; r++) {
    const order = (Object.keys(ARMS) as Arm[])[r % 2 === 0 ? 'slice' : 'reverse']();
    for (const arm of order) {
      const x = await once(arm, 19980 + r);
      res[arm].push(x);
      process.stderr.write(
        `round ${r + 1} ${arm}: ${x.starts} starts, onset to page ${x.onsetToPage?.toFixed(1) ?? 'never'} s, ${x.syscallsPerStart.toFixed(0)} mount syscalls, ${x.madePerStart.toFixed(0)} mounts made and ${x.eventsPerStart.toFixed(0)} mount events per start, lock wait ${x.lockWait.toFixed(3)} s/s\n`,
      );
    }
  }
  const fmt = (v: number | undefined) => (v === undefined ? 'never' : v.toFixed(1));
  console.log(
    `\nMachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(
    `Command: node dist/bench/independent-page.js ${rounds} ${seconds} ${workers} ${binds} ${rate} ${life}${timeline ? ' --timeline' : ''}\n`,
  );
  console.log(
    '| exporter | onset to page, median (each) | ÷ tracing always (same round, median) | starts/s | mount syscalls per start | new mounts made per start | mount events per start | lock wait (s/s) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const arm of Object.keys(ARMS) as Arm[]) {
    const xs = res[arm];
    const paged = xs.map((x) => x.onsetToPage).filter((v): v is number => v !== undefined);
    const ratios = xs
      .map((x, i) => (x.onsetToPage ?? NaN) / (res['tracing always'][i]?.onsetToPage ?? NaN))
      .filter((v) => Number.isFinite(v));
    console.log(
      `| ${arm} | ${paged.length ? fmt(median(paged)) : 'never'} s (${xs.map((x) => fmt(x.onsetToPage)).join(', ')}) | ${ratios.length ? median(ratios).toFixed(2) : '–'} | ${median(xs.map((x) => x.starts / seconds)).toFixed(1)} | ${median(xs.map((x) => x.syscallsPerStart)).toFixed(0)} | ${median(xs.map((x) => x.madePerStart)).toFixed(0)} | ${median(xs.map((x) => x.eventsPerStart)).toFixed(0)} | ${median(xs.map((x) => x.lockWait)).toFixed(3)} |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
