/**
 * A container runtime's temporary mounts, by where they are mounted: each lives for the moment of a
 * container start (reading an image's files, idmapping its layers), so one that stays was left
 * behind. containerd: `mount.WithTempMount`'s `<root>/tmpmounts/containerd-mount<N>`, and the
 * `ovl-idmapped<N>` directories of its idmapped lower layers (2.1; cf. containerd issue 12139).
 * Matched on the mount point as the kernel writes it (escaped; these names need no escape).
 */
const PATTERNS: ReadonlyArray<(segment: string, parent: string) => boolean> = [
  (segment, parent) => parent === 'tmpmounts' && segment.startsWith('containerd-mount'),
  (segment) => segment.startsWith('ovl-idmapped'),
];

export function isRuntimeTempMountPoint(mountPoint: string): boolean {
  if (mountPoint.indexOf('containerd-mount') < 0 && mountPoint.indexOf('ovl-idmapped') < 0) return false;
  const segments = mountPoint.split('/');
  return segments.some((s, i) => PATTERNS.some((p) => p(s, segments[i - 1] ?? '')));
}
