// What the listmount reader pays per new mount for telling a runtime's temporary mounts by their
// mount point: statmount(STATMOUNT_MNT_BASIC | STATMOUNT_FS_TYPE) as before, against the same with
// STATMOUNT_MNT_POINT, over every mount of this namespace in turn (CPU per call, median of 7 batches
// of 3,000), three rounds.
// usage (root, after npm run build): unshare -m --propagation private node dist/bench/statmount.js
import * as os from 'node:os';
import { MountApi, STATMOUNT_FS_TYPE, STATMOUNT_MNT_BASIC, STATMOUNT_MNT_POINT } from '../src/kernel/mount-api';
import { median } from './stats';

const api = new MountApi(0n);
const ids = [...api.list()];
const perCall = (mask: number) => {
  const r: number[] = [];
  for (let b = 0; b < 7; b++) {
    const c = process.cpuUsage();
    for (let i = 0; i < 3000; i++) api.stat(ids[i % ids.length] as number, mask);
    const u = process.cpuUsage(c);
    r.push((u.user + u.system) / 3000);
  }
  return median(r);
};
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${os.release()}; ${ids.length} mounts`);
for (let k = 0; k < 3; k++) {
  const before = perCall(STATMOUNT_MNT_BASIC | STATMOUNT_FS_TYPE);
  const now = perCall(STATMOUNT_MNT_BASIC | STATMOUNT_FS_TYPE | STATMOUNT_MNT_POINT);
  console.log(
    `basic + type ${before.toFixed(2)} µs; with the mount point ${now.toFixed(2)} µs: ${(now / before).toFixed(2)}×`,
  );
}
