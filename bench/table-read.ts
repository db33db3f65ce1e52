// What a reader of the mount table costs the kernel per mount: one whole read of
// /proc/self/mountinfo (what systemd's libmount, `cat` or `findmnt` do on every open), timed at
// each TABLE size in a private mount namespace grown by bind mounts (bench/table.ts). namespace_sem
// is held for reading while each chunk is made, so this is the lock time a reader's open costs,
// and the alert spec's tableReadMicrosecondsPerMount (src/alerts/thresholds.ts) comes from it.
// Baseline in the same run: reading a tmpfs file of the same bytes (the copy to user space alone).
// Reported per size: wall time per read (hrtime) and CPU per read (process.cpuUsage), median of
// ROUNDS batches of READS, and both per mount.
// usage (root, after npm run build): unshare -m --propagation private node dist/bench/table-read.js [sizes=1000,5000,20000] [rounds=7] [reads=50]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bigTable, mountCount } from './table';
import { median } from './stats';

const sizes = (process.argv[2] ?? '1000,5000,20000').split(',').map(Number);
const rounds = Number(process.argv[3] ?? 7);
const reads = Number(process.argv[4] ?? 50);
if (fs.readlinkSync('/proc/self/ns/mnt') === fs.readlinkSync(`/proc/${process.ppid}/ns/mnt`))
  throw new Error('run in a private mount namespace: unshare -m --propagation private node dist/bench/table-read.js');

const MI = '/proc/self/mountinfo';

/** Wall and CPU seconds per whole read of `file`, median over the rounds. */
function perRead(file: string): { wall: number; cpu: number } {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    for (let i = 0; i < reads; i++) fs.readFileSync(file);
    walls.push(Number(process.hrtime.bigint() - t) / 1e9 / reads);
    const u = process.cpuUsage(c);
    cpus.push((u.user + u.system) / 1e6 / reads);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

const us = (s: number) => (s * 1e6).toFixed(2);
perRead(MI); // warm: the first size measured would otherwise carry the JIT's and the caches' first pass
const rows: string[] = [];
for (const size of sizes) {
  const table = bigTable(size);
  const mounts = mountCount();
  const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-table-read-')), 'mountinfo');
  fs.writeFileSync(copy, fs.readFileSync(MI));
  const mi = perRead(MI);
  const plain = perRead(copy);
  rows.push(
    `| ${mounts} | ${(mi.wall * 1e3).toFixed(2)} ms | ${us(mi.wall / mounts)} µs | ${us(mi.cpu / mounts)} µs | ${(mi.wall / plain.wall).toFixed(1)}× (${(plain.wall * 1e3).toFixed(3)} ms) |`,
  );
  fs.rmSync(path.dirname(copy), { recursive: true, force: true });
  table.remove();
}
console.log(
  `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), kernel ${os.release()}, node ${process.version}`,
);
console.log(
  `Command: unshare -m --propagation private node dist/bench/table-read.js ${sizes.join(',')} ${rounds} ${reads}\n`,
);
console.log(
  '| mounts | one whole read of mountinfo (wall) | per mount (wall) | per mount (CPU) | ÷ the same bytes from a tmpfs file |',
);
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
