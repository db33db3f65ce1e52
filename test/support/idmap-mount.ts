/**
 * Idmapped bind mounts of SRC on TARGET, as a runtime makes them (open_tree clone, mount_setattr with
 * a user namespace mapping 0 → 100000 for 65536 ids, move_mount): `brief` makes and unmounts one N
 * times (a runtime's per-layer temporary mounts), `leave` makes one and leaves it.
 * usage: node idmap-mount.js brief|leave SRC TARGET [N]
 */
import * as fs from 'node:fs';
import { close, moveMount, mountSetattrIdmap, openTreeClone, umount2 } from '../../src/kernel/mount';
import { userNamespace } from '../../src/storm/userns';

const [what, src, target, n] = process.argv.slice(2) as [string, string, string, string | undefined];
void (async () => {
  const userns = await userNamespace();
  const idmapped = () => {
    const fd = openTreeClone(src);
    mountSetattrIdmap(fd, userns.fd);
    moveMount(fd, target);
    close(fd);
  };
  if (what === 'brief') {
    for (let i = 0; i < Number(n ?? 1); i++) {
      idmapped();
      umount2(target);
    }
  } else idmapped();
  fs.closeSync(userns.fd);
  userns.done();
})();
