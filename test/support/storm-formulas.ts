/** What a drill's container makes, exactly: the oracle the storm tests hold the real syscall counts to. */
import { ROUNDS, usesIdmap, type Mode, type Syscall } from '../../src/storm/plan';

/** Exact syscalls per container, teardown unmounts of both overlays included. */
export function syscallsPerContainer(mode: Mode, layers: number): Record<Syscall, number> {
  const attaches = mode === 'common-parent-idmap' ? 1 : layers;
  const idmap = usesIdmap(mode) ? attaches : 0;
  return {
    open_tree: ROUNDS * idmap,
    mount_setattr: ROUNDS * idmap,
    move_mount: ROUNDS * idmap,
    mount: ROUNDS * (1 + (usesIdmap(mode) ? 0 : attaches)),
    umount2: ROUNDS * (attaches + 1),
  };
}
