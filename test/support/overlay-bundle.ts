/**
 * A container bundle as containerd's shim leaves it: `<task>/<namespace>/<id>/` with a CRI
 * config.json naming `image`, and its `rootfs/` a real overlay of `layers` lower layers, mounted by
 * `run` (a shell script runner in the mount namespace that should hold it, e.g. inMountNamespace).
 * Everything the overlay needs lives inside the bundle directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function bundle(task: string, namespace: string, id: string, image: string): string {
  const b = path.join(task, namespace, id);
  fs.mkdirSync(path.join(b, 'rootfs'), { recursive: true });
  fs.writeFileSync(
    path.join(b, 'config.json'),
    JSON.stringify({ root: { path: 'rootfs' }, annotations: { 'io.kubernetes.cri.image-name': image } }),
  );
  return b;
}

/** Mounts a `layers`-layer overlay on `b`/rootfs through `run`. */
export function mountOverlay(b: string, layers: number, run: (script: string) => unknown): void {
  const lower = Array.from({ length: layers }, (_, i) => path.join(b, 'layers', String(i)));
  for (const d of [...lower, path.join(b, 'upper'), path.join(b, 'work')]) fs.mkdirSync(d, { recursive: true });
  run(`mount -t overlay overlay -o lowerdir=${lower.join(':')},upperdir=${b}/upper,workdir=${b}/work ${b}/rootfs`);
}
