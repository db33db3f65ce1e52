// What it costs to know the mount table's size once, at 1k, 20k and 100k mounts: NS_MNT_GET_INFO on
// the namespace's nsfs file (Linux 6.12+, what the exporter does every sample), against counting the
// ids listmount(2) lists and against reading the whole mountinfo text (the baseline: what every
// mountinfo reader pays). Real bind mounts in a private mount namespace of its own, which vanish
// with it. Reported: µs per call (median of 7 batches), and each way ÷ the text read at that size.
// usage (root, after npm run build): node dist/bench/table-size.js [sizes=1000,20000,100000]
import * as fs from 'node:fs';
import * as os from 'node:os';
import { rerunInPrivateMountNamespace } from './proc';

rerunInPrivateMountNamespace(__filename);

import { mount, MS_BIND } from '../src/kernel/mount';
import { MountApi } from '../src/kernel/mount-api';
import { mountNamespaceInfo } from '../src/kernel/nsfs';
import { readProcFileSync } from '../src/sources/mount-table/text-reader';
import { median } from './stats';

const sizes = (process.argv[3] ?? '1000,20000,100000').split(',').map(Number);
const MI = '/proc/self/mountinfo';
const base = fs.mkdtempSync('/tmp/mountstorm-size-');
mount('size', base, 'tmpfs', 0);
fs.mkdirSync(`${base}/src`);
const lines = () => fs.readFileSync(MI, 'utf8').split('\n').length - 1;
let made = 0;
function growTo(n: number) {
  for (let have = lines(); have < n; have++, made++) {
    fs.mkdirSync(`${base}/m${made}`);
    mount(`${base}/src`, `${base}/m${made}`, null, MS_BIND);
  }
}

/** µs per call of `fn`, median of 7 batches of `n`. */
function time(fn: () => unknown, n: number): number {
  const per: number[] = [];
  for (let b = 0; b < 7; b++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    per.push(Number(process.hrtime.bigint() - t) / 1e3 / n);
  }
  return median(per);
}

const nsFd = fs.openSync('/proc/self/ns/mnt', 'r');
const api = new MountApi(0n);
let buf: Buffer = Buffer.allocUnsafe(1 << 20);
console.log(
  `Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}`,
);
console.log(`Command: node dist/bench/table-size.js ${sizes.join(',')}`);
console.log('');
console.log(
  '| mounts | mountinfo text read, µs (baseline) | listmount ids, µs | ÷ text | NS_MNT_GET_INFO, µs | ÷ text | sizes agree |',
);
console.log('|---|---|---|---|---|---|---|');
for (const n of sizes) {
  growTo(n);
  const reps = Math.max(3, Math.round(2e5 / n));
  const text = time(() => {
    buf = readProcFileSync(MI, buf).buf;
  }, reps);
  const list = time(() => api.list(), reps);
  const info = time(() => mountNamespaceInfo(nsFd), 20_000);
  const agree = mountNamespaceInfo(nsFd).mounts === lines() && api.list().length === lines();
  console.log(
    `| ${lines().toLocaleString('en')} | ${text.toFixed(1)} | ${list.toFixed(1)} | ${(list / text).toFixed(3)} | ${info.toFixed(3)} | ${(info / text).toFixed(5)} | ${agree ? 'yes' : 'NO'} |`,
  );
}
