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
 *  - per-cpu-masks (the 2025-2026 storm): the rootfs overlay (one mount, no idmapping), then one
 *    read-only tmpfs on each masked path, as runc masks a directory: the runtime's own defaults and
 *    one thermal_throttle directory per CPU (--cpus), as kubelet and containerd ask for since
 *    kubernetes PR 131018 and containerd PR 14090: 1 + masks operations per container, one round.
 *    A runtime makes the masks in the container's new mount namespace and they go with it; the drill
 *    makes them in its own namespace (threads cannot each have one) and detaches each rootfs with its
 *    masks in one umount2(MNT_DETACH): the same mounts on the same locks.
 *  - namespace-copy: every start a new mount namespace (`unshare --mount`, as an OCI runtime
 *    unshares one for each container), copying the drill's table of --table mounts under
 *    namespace_sem held for writing, then tearing it down as the process ends: 1 operation (the
 *    unshare) per container, its cost the table's size. --hold does not apply.
 * The overlay of round 1 is unmounted once read; the rootfs overlay when the container goes away
 * (after --hold). Those teardown unmounts are reported apart from the operations.
 */
export const MODES = [
  'per-layer-idmap',
  'common-parent-idmap',
  'bind-per-layer',
  'per-cpu-masks',
  'namespace-copy',
] as const;
export type Mode = (typeof MODES)[number];

export const SYSCALLS = ['open_tree', 'mount_setattr', 'move_mount', 'mount', 'umount2', 'unshare'] as const;
export type Syscall = (typeof SYSCALLS)[number];

export const ROUNDS = 2;
/** The runtime namespace directory the drill's bundles go in with --task-dir (containerd's are k8s.io, moby, default). */
export const BUNDLE_NAMESPACE = 'mountstorm-drill';
/** Overlay mount data must fit in one page; 128 layers of our short paths stay well inside it. */
export const MAX_LAYERS = 128;

export function usesIdmap(mode: Mode): boolean {
  return mode === 'per-layer-idmap' || mode === 'common-parent-idmap';
}

/** The paths containerd's default spec masks (runc masks each that exists in the container). */
export const DEFAULT_MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
] as const;

/** The masked paths of a container on a host with `cpus` CPUs: the defaults, then one per CPU (kubelet's). */
export function maskedPaths(cpus: number): string[] {
  return [
    ...DEFAULT_MASKED_PATHS,
    ...Array.from({ length: cpus }, (_, n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`),
  ];
}

/** Mount operations per container (attach, overlay mount, detach, mask), the formula each mode is known by. */
export function operationsPerContainer(mode: Mode, layers: number, cpus = 0): number {
  if (mode === 'per-cpu-masks') return 1 + maskedPaths(cpus).length;
  if (mode === 'namespace-copy') return 1;
  return mode === 'common-parent-idmap' ? ROUNDS * 3 : ROUNDS * (1 + 2 * layers);
}
