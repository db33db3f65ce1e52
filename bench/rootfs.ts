// What finding a container's rootfs overlay costs (src/oci/rootfs.ts: statx for the unique mount id
// through /proc/PID/root, statmount for the super options, the lowerdir list counted), per lookup,
// on a LAYERS-layer overlay; and a look at a rootfs not mounted yet (one statx: the retries' cost).
// Baseline in the same run: readBundle() of a CRI config.json, the read each start already pays.
// CPU per call (process.cpuUsage), median of 7 batches of 2,000.
// usage (root, after npm run build): unshare -m --propagation private node dist/bench/rootfs.js [layers=50]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { RootfsLookup } from '../src/oci/rootfs';
import { readBundle } from '../src/oci/bundle';
import { median } from './stats';

const layers = Number(process.argv[2] ?? 50);
if (fs.readlinkSync('/proc/self/ns/mnt') === fs.readlinkSync(`/proc/${process.ppid}/ns/mnt`))
  throw new Error('run in a private mount namespace: unshare -m --propagation private node dist/bench/rootfs.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-rootfs-bench-'));
for (let i = 0; i < layers; i++) fs.mkdirSync(path.join(dir, `l${i}`));
for (const d of ['upper', 'work', 'rootfs', 'later']) fs.mkdirSync(path.join(dir, d));
fs.writeFileSync(
  path.join(dir, 'config.json'),
  JSON.stringify({
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    annotations: {
      'io.kubernetes.cri.image-name': 'registry.example/team/web:1.4',
      'io.kubernetes.cri.sandbox-namespace': 'shop',
    },
    linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] },
  }),
);
const lower = Array.from({ length: layers }, (_, i) => path.join(dir, `l${i}`)).join(':');
execFileSync('mount', [
  '-t',
  'overlay',
  'overlay',
  '-o',
  `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`,
  `${dir}/rootfs`,
]);

function cpuPerCall(fn: () => unknown): number {
  const cpu: number[] = [];
  for (let b = 0; b < 7; b++) {
    const n = 2000;
    const c = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / n);
  }
  return median(cpu);
}

try {
  const lookup = new RootfsLookup('/proc/self/mountinfo');
  const found = lookup.layers(`${dir}/rootfs`);
  if (!('layers' in found) || found.layers !== layers)
    throw new Error(`expected ${layers} layers, got ${JSON.stringify(found)}`);
  const bundle = cpuPerCall(() => readBundle(dir));
  const overlay = cpuPerCall(() => lookup.layers(`${dir}/rootfs`));
  const notYet = cpuPerCall(() => lookup.layers(`${dir}/later`));
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${os.release()}`);
  console.log(`readBundle (baseline):     ${bundle.toFixed(1)} µs CPU per call`);
  console.log(
    `rootfs overlay, ${layers} layers: ${overlay.toFixed(1)} µs CPU per lookup (${(overlay / bundle).toFixed(2)}× readBundle)`,
  );
  console.log(
    `rootfs not mounted yet:    ${notYet.toFixed(1)} µs CPU per look (${(notYet / bundle).toFixed(2)}× readBundle)`,
  );
} finally {
  execFileSync('umount', [`${dir}/rootfs`]);
  fs.rmSync(dir, { recursive: true, force: true });
}
