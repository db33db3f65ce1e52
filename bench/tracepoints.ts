// What the kernel charges a mount syscall for each tracepoint the tracefs collector enables: the
// floor under bench/tracefs.js's interference figure, taken apart. One thread makes bind mount +
// umount pairs (2 traced syscalls) and getppid calls (untraced) in blocks; between blocks an
// instance of its own is switched between arms, in rotating order, each block after a settle pause
// (enabling or disabling a syscall tracepoint sets or clears a flag on every task and waits for
// RCU; that work must not land in the next block):
//   off       no event enabled;
//   tif       one syscall tracepoint enabled that the workload never calls (acct): every syscall
//             takes the kernel's tracing path, nothing is recorded;
//   collector the collector's syscall events: entry (with its filters) and exit of every traced
//             mount-family syscall, recorded in the ring buffer, never read;
//   exits     only the exits of the same syscalls (what a collector without durations or lock
//             attribution would need);
//   rejected  the collector's events with a filter no event passes: the tracepoints run and build
//             their records, nothing reaches the ring buffer.
// Each arm's time per operation is divided by off's in the same round; reported: the median of the
// rounds' ratios and their mean with a 95 % interval, and per event fired, the median over rounds
// of (arm − tif in the same round) ÷ events per operation, counted from the instance's per-CPU
// stats (entries + overrun; for rejected, the collector arm's count: the same events fire).
// usage (root, after npm run build): node dist/bench/tracepoints.js [rounds] [pairs-per-block]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syscall } from '../src/kernel/libc';
import { mount, MS_BIND, umount2 } from '../src/kernel/mount';
import { TRACED_SYSCALLS } from '../src/sources/tracefs/events';
import { rerunInPrivateMountNamespace } from './proc';
import { median, meanCi } from './stats';
import { benchInstance } from './trace-instance';

// A private mount namespace: the bench's mounts and the tracefs it may mount vanish with it.
rerunInPrivateMountNamespace(__filename);
const ROUNDS = Number(process.argv[3] ?? 30);
const PAIRS = Number(process.argv[4] ?? 3000);
const GETPPID = 200_000;
const SETTLE_MS = 300;

const inst = benchInstance('tracepoints');
const { write, recorded } = inst;
interface Event {
  event: string;
  filter?: string;
  entry?: boolean;
  exit?: boolean;
}
function allEvents(): Event[] {
  const out: Event[] = [{ event: 'syscalls/sys_enter_acct' }];
  for (const s of TRACED_SYSCALLS) {
    out.push({ event: `syscalls/sys_enter_${s.name}`, filter: s.enterFilter, entry: true });
    if (s.exit) out.push({ event: `syscalls/sys_exit_${s.name}`, exit: true });
  }
  return out;
}
type ArmName = 'off' | 'tif' | 'collector' | 'exits' | 'rejected';
const ARMS: Record<ArmName, (e: Event) => boolean> = {
  off: () => false,
  tif: (e) => e.event === 'syscalls/sys_enter_acct',
  collector: (e) => Boolean(e.entry || e.exit),
  exits: (e) => Boolean(e.exit),
  rejected: (e) => Boolean(e.entry || e.exit),
};
function arm(name: ArmName) {
  for (const e of allEvents()) {
    if (!fs.existsSync(path.join(inst.dir, 'events', e.event))) continue;
    const filter = name === 'rejected' ? 'common_pid < 0' : e.filter;
    write(`events/${e.event}/filter`, filter ?? '0');
    write(`events/${e.event}/enable`, ARMS[name](e) ? '1' : '0');
  }
  write('trace', '');
}
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-tracepoints-'));
mount('none', dir, 'tmpfs', 0, 'size=1m');
fs.mkdirSync(path.join(dir, 'src'));
fs.mkdirSync(path.join(dir, 'dst'));
const src = path.join(dir, 'src');
const dst = path.join(dir, 'dst');
const SYS_getppid = 110; // x86-64
if (process.arch !== 'x64') throw new Error('getppid is numbered for x86-64 here');

function block() {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PAIRS; i++) {
    mount(src, dst, null, MS_BIND);
    umount2(dst);
  }
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < GETPPID; i++) syscall(SYS_getppid);
  const t2 = process.hrtime.bigint();
  return { opNs: Number(t1 - t0) / PAIRS, syscallNs: Number(t2 - t1) / GETPPID };
}

const names = Object.keys(ARMS) as ArmName[];
type Block = ReturnType<typeof block>;
type Series = { op: number[]; sys: number[]; ns: number[]; overTif: number[]; events: number };
// Warm-up: koffi's call paths and the JIT.
arm('off');
block();
const res = Object.fromEntries(
  names.map((n): [ArmName, Series] => [n, { op: [], sys: [], ns: [], overTif: [], events: 0 }]),
) as Record<ArmName, Series>;
for (let r = 0; r < ROUNDS; r++) {
  const round = {} as Record<ArmName, Block>;
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + r) % names.length] as ArmName;
    arm(name);
    sleep(SETTLE_MS);
    const before = recorded();
    round[name] = block();
    res[name].events += recorded() - before;
  }
  for (const n of names) {
    res[n].op.push(round[n].opNs / round.off.opNs);
    res[n].sys.push(round[n].syscallNs - round.off.syscallNs);
    res[n].ns.push(round[n].opNs);
    res[n].overTif.push(round[n].opNs - round.tif.opNs);
  }
}
arm('off');
umount2(dir);
fs.rmdirSync(dir);

const f = (x: number, d = 3) => x.toFixed(d);
console.log(
  `\n${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), kernel ${os.release()}; ${ROUNDS} rounds of ${PAIRS} bind mount + umount pairs and ${GETPPID} getppid calls per arm, one thread\n`,
);
console.log(
  '| arm | mount + umount, ns (median) | ÷ off (median) | ÷ off (mean ± 95 %) | events recorded per pair | ns per event fired | getppid, ns over off |',
);
console.log('|---|---|---|---|---|---|---|');
for (const n of names) {
  const { mean: m, half: ci } = meanCi(res[n].op);
  const perPair = res[n].events / (ROUNDS * PAIRS);
  const fired = n === 'rejected' ? res.collector.events / (ROUNDS * PAIRS) : perPair;
  const perEvent = fired > 0.5 ? f(median(res[n].overTif) / fired, 0) : '–';
  console.log(
    `| ${n} | ${f(median(res[n].ns), 0)} | ${f(median(res[n].op))} | ${f(m)} ± ${f(ci)} | ${f(perPair, 2)} | ${perEvent} | ${f(median(res[n].sys), 1)} |`,
  );
}
