// What the readers' events cost every open on the host while tracing is armed: the tracefs
// collector enables sys_enter_openat and sys_enter_open with an in-kernel filter that reads each
// opened path from user space (`.ustring`) and keeps those ending in /mountinfo or /mounts. One
// thread opens and closes a file in blocks, between blocks an instance of its own switched between
// arms in rotating order, each block after a settle pause:
//   off      no event enabled;
//   tif      one syscall tracepoint enabled that the workload never calls (acct): every syscall takes
//            the kernel's tracing path, as it does whenever the collector is armed;
//   readers  the readers' events with their filter, as the collector enables them.
// Two files: /etc/hostname (what nearly every open on a host is: the filter reads the path and
// rejects it) and /proc/self/mountinfo (a reader: recorded). Reported per arm and file: the median
// ns per open + close, and (readers − tif) in the same round, median over rounds, with the mean
// and its 95 % interval.
// usage (root, after npm run build): node dist/bench/reader-opens.js [rounds=20] [opens-per-block=20000]
import * as fs from 'node:fs';
import * as os from 'node:os';
import { tracedEvents } from '../src/sources/tracefs/events';
import { rerunInPrivateMountNamespace } from './proc';
import { median, meanCi } from './stats';
import { benchInstance } from './trace-instance';

rerunInPrivateMountNamespace(__filename);
const ROUNDS = Number(process.argv[3] ?? 20);
const OPENS = Number(process.argv[4] ?? 20_000);
const SETTLE_MS = 300;

const { write, recorded } = benchInstance('readers');
const readers = tracedEvents(true).filter((e) => e.optional);
const TIF = 'syscalls/sys_enter_acct';

type ArmName = 'off' | 'tif' | 'readers';
function arm(name: ArmName) {
  write(`events/${TIF}/enable`, name === 'tif' ? '1' : '0');
  for (const e of readers) {
    write(`events/${e.event}/filter`, e.filter ?? '0');
    write(`events/${e.event}/enable`, name === 'readers' ? '1' : '0');
  }
  write('trace', '');
}
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const FILES = { other: '/etc/hostname', mountinfo: '/proc/self/mountinfo' } as const;
type FileName = keyof typeof FILES;
function block(file: string): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPENS; i++) fs.closeSync(fs.openSync(file, 'r'));
  return Number(process.hrtime.bigint() - t0) / OPENS;
}

const arms: ArmName[] = ['off', 'tif', 'readers'];
const files = Object.keys(FILES) as FileName[];
arm('off');
for (const f of files) block(FILES[f]); // warm-up
const ns: Record<string, number[]> = {};
const overTif: Record<FileName, number[]> = { other: [], mountinfo: [] };
const events: Record<string, number> = {};
for (let r = 0; r < ROUNDS; r++) {
  const round: Record<string, number> = {};
  for (let k = 0; k < arms.length; k++) {
    const a = arms[(k + r) % arms.length] as ArmName;
    arm(a);
    sleep(SETTLE_MS);
    for (const f of files) {
      const before = recorded();
      round[`${a} ${f}`] = block(FILES[f]);
      events[`${a} ${f}`] = (events[`${a} ${f}`] ?? 0) + recorded() - before;
      (ns[`${a} ${f}`] ??= []).push(round[`${a} ${f}`] as number);
    }
  }
  for (const f of files) overTif[f].push((round[`readers ${f}`] as number) - (round[`tif ${f}`] as number));
}
arm('off');

const x = (v: number, d = 0) => v.toFixed(d);
console.log(
  `\n${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), kernel ${os.release()}, node ${process.version}; ${ROUNDS} rounds of ${OPENS} open + close per arm and file, one thread`,
);
console.log(`Command: node dist/bench/reader-opens.js ${ROUNDS} ${OPENS}\n`);
console.log('| arm | file | open + close, ns (median) | ÷ off (median) | events recorded per open |');
console.log('|---|---|---|---|---|');
for (const a of arms)
  for (const f of files) {
    const k = `${a} ${f}`;
    const ratio = median((ns[k] as number[]).map((v, i) => v / ((ns[`off ${f}`] as number[])[i] as number)));
    console.log(
      `| ${a} | ${FILES[f]} | ${x(median(ns[k] as number[]))} | ${x(ratio, 3)} | ${x((events[k] ?? 0) / (ROUNDS * OPENS), 2)} |`,
    );
  }
for (const f of files) {
  const { mean, half } = meanCi(overTif[f]);
  console.log(`\nreaders − tif, ${FILES[f]}: ${x(median(overTif[f]))} ns per open (mean ${x(mean)} ± ${x(half)})`);
}
