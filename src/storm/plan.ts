/**
 * What each storm mode does per container, and the counts that follow. A container is set up in
 * two rounds, as containerd does with user namespaces: once to read the image's user data, once for
 * the rootfs. Per round:
 *  - per-layer-idmap (the runtime before containerd PR 12092): for each layer open_tree(CLONE) +
 *    mount_setattr(IDMAP) + move_mount, then the overlay mount, then unmount of every layer mount:
 *    1 + 2·layers operations, 2 × (1 + 2·layers) per container.
 *  - common-parent-idmap (the fix): one idmapped mount of the layers' common parent, the overlay,
 *    one unmount: 3 operations per round whatever the layer count.
 *  - bind-per-layer: as per-layer-idmap with plain bind mounts, for kernels without idmap support.
 * The overlay of round 1 is unmounted once read; the rootfs overlay when the container goes away
 * (after --hold). Those teardown unmounts are reported apart from the operations.
 */
export const MODES = ['per-layer-idmap', 'common-parent-idmap', 'bind-per-layer'] as const;
export type Mode = (typeof MODES)[number];

export const SYSCALLS = ['open_tree', 'mount_setattr', 'move_mount', 'mount', 'umount2'] as const;
export type Syscall = (typeof SYSCALLS)[number];

export const ROUNDS = 2;
/** The runtime namespace directory the drill's bundles go in with --task-dir (containerd's are k8s.io, moby, default). */
export const BUNDLE_NAMESPACE = 'mountstorm-drill';
/** Overlay mount data must fit in one page; 128 layers of our short paths stay well inside it. */
export const MAX_LAYERS = 128;

export function usesIdmap(mode: Mode): boolean {
  return mode !== 'bind-per-layer';
}

/** Mount operations per container (attach, overlay mount, detach), the formula each mode is known by. */
export function operationsPerContainer(mode: Mode, layers: number): number {
  return mode === 'common-parent-idmap' ? ROUNDS * 3 : ROUNDS * (1 + 2 * layers);
}
