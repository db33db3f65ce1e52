/** What a drill's container makes, exactly: the oracle the storm tests hold the real syscall counts to. */
import { maskedPaths, ROUNDS, usesIdmap, type Mode, type Syscall } from '../../src/storm/plan';

/** Exact syscalls per container, teardown unmounts included (of both overlays; per-cpu-masks: its rootfs, masks and all). */
export function syscallsPerContainer(mode: Mode, layers: number, cpus = 0): Record<Syscall, number> {
  if (mode === 'per-cpu-masks')
    return {
      open_tree: 0,
      mount_setattr: 0,
      move_mount: 0,
      mount: 1 + maskedPaths(cpus).length,
      umount2: 1,
      unshare: 0,
    };
  if (mode === 'namespace-copy')
    return { open_tree: 0, mount_setattr: 0, move_mount: 0, mount: 0, umount2: 0, unshare: 1 };
  const attaches = mode === 'common-parent-idmap' ? 1 : layers;
  const idmap = usesIdmap(mode) ? attaches : 0;
  return {
    open_tree: ROUNDS * idmap,
    mount_setattr: ROUNDS * idmap,
    move_mount: ROUNDS * idmap,
    mount: ROUNDS * (1 + (usesIdmap(mode) ? 0 : attaches)),
    umount2: ROUNDS * (attaches + 1),
    unshare: 0,
  };
}
