// When readers are the storm: a storm of containers mounting BINDS binds each (test/support/bind-storm.py,
// unpaced, exiting at once) beside READERS readers that re-read a TABLE-mount table whole, one read
// after another (test/support/table-readers.py: systemd re-reading on every change while changes come
// faster than it reads). The table is a mount namespace of its own (test/support/big-table.py) that
// the exporter watches as a node's (--mount.pid=self inside it), with --collector.tracefs.readers and
// its other defaults; the storm's containers copy the host's small table, so their own work is their
// binds. Arms: each reader count in READERS, alternating order by round.
// Reported per arm (medians over rounds): the readers' own time reading (their clock) and the
// exporter's estimate of it (opens × the table's mounts × tableReadMicrosecondsPerMount), the time
// inside mount syscalls and the lock wait in them, the readers' share the page compares with
// readerShare, and the cause the page named (mountstorm_node_storm_cause) with its onset to page.
// usage (root, after npm run build): node dist/bench/readers-storm.js [rounds=2] [seconds=12] [readers=0,1,2,4] [table=5000] [binds=100]
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_ALERTS_CONFIG } from '../src/alerts/config';
import { exited, spawnBigTable, spawnTableReaders } from '../test/support/big-table';
import { REPO } from '../test/support/env';
import { median } from './stats';
import { metricSums, pageFiredAt, runBindStorm, sleep, stopProcess } from './proc';

const args = process.argv.slice(2);
const rounds = Number(args[0] ?? 2);
const seconds = Number(args[1] ?? 12);
const arms = (args[2] ?? '0,1,2,4').split(',').map(Number);
const tableSize = Number(args[3] ?? 5000);
const binds = Number(args[4] ?? 100);
const cli = path.join(REPO, 'dist/src/cli.js');
const perMountUs = DEFAULT_ALERTS_CONFIG.thresholds.tableReadMicrosecondsPerMount;

interface Result {
  /** Seconds per second: the readers' own clock, and the exporter's estimate from its opens. */
  readTrue: number;
  readEstimate: number;
  starts: number;
  mountSeconds: number;
  lockWait: number;
  onsetToPage?: number;
  cause?: string;
}

const FIGURES = {
  opens: 'mountstorm_mount_table_opens_by_process_total',
  mountSeconds: 'mountstorm_mount_syscall_duration_seconds_sum',
  lockWait: 'mountstorm_mount_lock_wait_seconds_total',
} as const;
const figures = (url: string) => metricSums(url, FIGURES);

async function once(readers: number, port: number): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-readers-'));
  const tasks = path.join(dir, 'tasks');
  fs.mkdirSync(path.join(tasks, 'k8s.io'), { recursive: true });
  const holder = await spawnBigTable(path.join(dir, 'table'), tableSize);
  let exp: ChildProcess | undefined;
  let reading: ChildProcess | undefined;
  try {
    exp = spawn(
      'nsenter',
      [
        '-t',
        String(holder.pid),
        '-m',
        '--',
        process.execPath,
        cli,
        'serve',
        `--web.listen-address=127.0.0.1:${port}`,
        '--mount.pid=self',
        `--collector.containers.task-dir=${tasks}`,
        '--collector.tracefs.readers',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    exp.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    for (let i = 0; !/msg="watching container runtime directory"/.test(log); i++) {
      if (i > 400) throw new Error(`the exporter did not start:\n${log}`);
      await sleep(50);
    }
    await sleep(8000); // a quiet baseline for the probes
    const url = `http://127.0.0.1:${port}`;
    if (readers > 0) {
      reading = spawnTableReaders(`/proc/${holder.pid}/mountinfo`, readers, 'table-reader', 'pipe');
    }
    const readersOut = new Promise<string>((r) => {
      let t = '';
      reading?.stdout?.on('data', (d: Buffer) => (t += d.toString()));
      if (reading) reading.on('exit', () => r(t));
      else r('{"reads":0,"seconds":0}');
    });
    const before = await figures(url);
    const t0 = Date.now();
    let paged: number | undefined;
    let cause: string | undefined;
    const r = await runBindStorm({ tasks, scratch: path.join(dir, 'scratch'), workers: 8, seconds, binds }, () => {
      if (paged !== undefined) return;
      paged = pageFiredAt(log);
      // The cause the page named: the node's export of it, as it pages.
      if (paged !== undefined)
        void fetch(`${url}/metrics`)
          .then((res) => res.text())
          .then((t) => (cause = /^mountstorm_node_storm_cause\{cause="([^"]+)"\} 1$/m.exec(t)?.[1]));
    });
    await sleep(2500); // two samples: the storm's last syscalls in the counters
    const after = await figures(url);
    const span = (Date.now() - t0) / 1000;
    reading?.kill('SIGTERM');
    const rd = JSON.parse((await readersOut).trim() || '{"reads":0,"seconds":0}') as { reads: number; seconds: number };
    return {
      readTrue: rd.seconds / span,
      readEstimate: ((after.opens - before.opens) * tableSize * perMountUs) / 1e6 / span,
      starts: r.starts,
      mountSeconds: (after.mountSeconds - before.mountSeconds) / span,
      lockWait: (after.lockWait - before.lockWait) / span,
      onsetToPage: paged === undefined ? undefined : paged - r.first,
      cause,
    };
  } finally {
    if (reading) await stopProcess(reading);
    if (exp) await stopProcess(exp);
    holder.stdin?.end();
    await exited(holder);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(async () => {
  const res = new Map<number, Result[]>(arms.map((a) => [a, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse();
    for (const k of order) {
      const x = await once(k, 19990 + round);
      res.get(k)?.push(x);
      process.stderr.write(
        `round ${round + 1}, ${k} readers: reading ${x.readTrue.toFixed(3)} s/s (estimate ${x.readEstimate.toFixed(3)}), ${x.starts} starts, mount syscalls ${x.mountSeconds.toFixed(3)} s/s, lock wait ${x.lockWait.toFixed(3)} s/s, paged ${x.onsetToPage?.toFixed(1) ?? 'never'} s naming ${x.cause ?? '–'}\n`,
      );
    }
  }
  console.log(
    `\nMachine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), kernel ${os.release()}, node ${process.version}`,
  );
  console.log(
    `Command: node dist/bench/readers-storm.js ${rounds} ${seconds} ${arms.join(',')} ${tableSize} ${binds}\n`,
  );
  console.log(
    "| readers | their reading (s/s, their clock) | the exporter's estimate (s/s) | estimate ÷ their clock | starts/s | time in mount syscalls (s/s) | lock wait in them (s/s) | readers' share (estimate ÷ (estimate + mount syscalls − lock wait)) | cause named (each round) | onset to page |",
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const k of arms) {
    const xs = res.get(k) ?? [];
    const m = (f: (x: Result) => number) => median(xs.map(f));
    const share = m((x) => x.readEstimate / (x.readEstimate + Math.max(0, x.mountSeconds - x.lockWait)));
    console.log(
      `| ${k} | ${m((x) => x.readTrue).toFixed(3)} | ${m((x) => x.readEstimate).toFixed(3)} | ${k ? m((x) => x.readEstimate / x.readTrue).toFixed(2) : '–'} | ${m((x) => x.starts / seconds).toFixed(0)} | ${m((x) => x.mountSeconds).toFixed(3)} | ${m((x) => x.lockWait).toFixed(3)} | ${share.toFixed(2)} | ${xs.map((x) => x.cause ?? 'no page').join(', ')} | ${xs.map((x) => x.onsetToPage?.toFixed(1) ?? 'never').join(', ')} s |`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
