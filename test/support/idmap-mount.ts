/**
 * Idmapped bind mounts of SRC on TARGET, as a runtime makes them (open_tree clone, mount_setattr with
 * a user namespace mapping 0 → 100000 for 65536 ids, move_mount): `brief` makes and unmounts one N
 * times (a runtime's per-layer temporary mounts), `leave` makes one and leaves it.
 * usage: node idmap-mount.js brief|leave SRC TARGET [N]
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { close, moveMount, mountSetattrIdmap, openTreeClone, umount2 } from '../../src/kernel/mount';

const [what, src, target, n] = process.argv.slice(2) as [string, string, string, string | undefined];
const helper = spawn('unshare', ['--user', '--', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
const ns = `/proc/${helper.pid}/ns/user`;
void (async () => {
  while (fs.readlinkSync(ns) === fs.readlinkSync('/proc/self/ns/user')) await new Promise((r) => setTimeout(r, 5));
  fs.writeFileSync(`/proc/${helper.pid}/uid_map`, '0 100000 65536\n');
  fs.writeFileSync(`/proc/${helper.pid}/gid_map`, '0 100000 65536\n');
  const userns = fs.openSync(ns, 'r');
  const idmapped = () => {
    const fd = openTreeClone(src);
    mountSetattrIdmap(fd, userns);
    moveMount(fd, target);
    close(fd);
  };
  if (what === 'brief') {
    for (let i = 0; i < Number(n ?? 1); i++) {
      idmapped();
      umount2(target);
    }
  } else idmapped();
  fs.closeSync(userns);
  helper.stdin?.end();
})();
