/**
 * Where each container runtime keeps its containers' OCI bundles, and which runtime a bundle is
 * from. Two layouts cover the runtimes fleets run:
 *
 * - containerd's task directory (`/run/containerd/io.containerd.runtime.v2.task`): one
 *   `<namespace>/<id>/config.json` per running task. Kubernetes' CRI uses namespace `k8s.io`, Docker
 *   `moby`, ctr and nerdctl `default`: each runtime namespace of one containerd.
 * - containers/storage (Podman and CRI-O): `<root>/<driver>-containers/<id>/userdata/config.json`,
 *   in the graph root (`/var/lib/containers/storage`: Podman writes the spec there) and the run root
 *   (`/run/containers/storage`: CRI-O's bundle). The two roots hold the same container ids; a
 *   container is one start whichever root tells of it first. Podman keeps the image's name out of
 *   the spec, in the store's `containers.json` (its `metadata`), read here on demand.
 */
import * as fs from 'node:fs';
import { constants } from 'node:fs';
import * as path from 'node:path';
import type { BundleInfo } from './bundle';

export type LayoutKind = 'containerd' | 'containers-storage';

/** A runtime's directory, as the runtime names it. */
export interface RuntimeDir {
  layout: LayoutKind;
  dir: string;
}

/** Every runtime a start is counted for (the `runtime` label: bounded). */
export const RUNTIMES = ['containerd', 'docker', 'cri-o', 'podman', 'unknown'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** The runtime directories of --collector.containers.task-dir and --collector.containers.storage-dir, in that order. */
export function runtimeDirs(taskDirs: readonly string[], storageDirs: readonly string[]): RuntimeDir[] {
  return [
    ...taskDirs.map((dir): RuntimeDir => ({ layout: 'containerd', dir })),
    ...storageDirs.map((dir): RuntimeDir => ({ layout: 'containers-storage', dir })),
  ];
}

export const DEFAULT_TASK_DIRS = ['/run/containerd/io.containerd.runtime.v2.task'];
export const DEFAULT_STORAGE_DIRS = ['/var/lib/containers/storage', '/run/containers/storage'];

/** containerd's runtime namespace of a task: Docker's is `moby`, every other (k8s.io, default, …) is containerd's own clients. */
export function containerdRuntime(namespace: string): Runtime {
  return namespace === 'moby' ? 'docker' : 'containerd';
}

/**
 * A containers/storage bundle's runtime, from its spec: CRI-O and Podman both say so in
 * `io.container.manager` (`cri-o`, `libpod`); a CRI-O container type without it is CRI-O's too.
 */
export function storageRuntime(info: Pick<BundleInfo, 'manager' | 'containerType'> | undefined): Runtime {
  if (info?.manager === 'libpod') return 'podman';
  if (info?.manager === 'cri-o') return 'cri-o';
  if (info?.containerType !== undefined) return 'cri-o';
  return 'unknown';
}

/** A store's per-driver container directories: `overlay-containers`, `vfs-containers`, … */
export function storageContainerDirs(root: string): string[] {
  try {
    return fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^[a-z0-9]+-containers$/.test(e.name))
      .map((e) => path.join(root, e.name));
  } catch {
    return [];
  }
}

/** What containers.json says of a container: its image, as the user named it, and its own name. */
export interface StoredContainer {
  image?: string;
  name?: string;
}

/** containers.json larger than this is not read (a thousand containers make ~400 KiB). */
export const MAX_CONTAINERS_JSON = 16 << 20;

/**
 * containers/storage's `containers.json`: `[{"id", "names", "metadata": "<JSON text>"}]`, where the
 * metadata Podman writes holds `image-name` and `name`. Entries that are not so are skipped.
 */
export function parseStorageContainers(text: string): Map<string, StoredContainer> {
  const out = new Map<string, StoredContainer>();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return out;
  }
  if (!Array.isArray(v)) return out;
  for (const e of v) {
    if (typeof e !== 'object' || e === null) continue;
    const r = e as Record<string, unknown>;
    if (typeof r.id !== 'string') continue;
    let meta: Record<string, unknown> = {};
    if (typeof r.metadata === 'string') {
      try {
        const m: unknown = JSON.parse(r.metadata);
        if (typeof m === 'object' && m !== null && !Array.isArray(m)) meta = m as Record<string, unknown>;
      } catch {
        // a CRI-O or foreign entry: no metadata of Podman's
      }
    }
    const names = Array.isArray(r.names) ? r.names.filter((n): n is string => typeof n === 'string') : [];
    out.set(r.id, {
      image: typeof meta['image-name'] === 'string' && meta['image-name'] ? meta['image-name'] : undefined,
      name: typeof meta.name === 'string' && meta.name ? meta.name : names[0],
    });
  }
  return out;
}

/**
 * One store's containers.json, read again only where an id is not in the last reading and the file
 * changed since, and at most once per `minIntervalMs`: a start burst reads it a few times a second,
 * not once per start.
 */
export class StorageContainers {
  private byId = new Map<string, StoredContainer>();
  private mtimeMs = -1;
  private readAt = -Infinity;

  constructor(
    /** `<root>/<driver>-containers`, as this process reads it. */
    private readonly dir: string,
    private readonly minIntervalMs = 250,
  ) {}

  /** The container's entry; undefined where it is not there (yet), or `'later'` where a re-read must wait. */
  lookup(id: string, now = Date.now()): StoredContainer | undefined | 'later' {
    const hit = this.byId.get(id);
    if (hit) return hit;
    if (now - this.readAt < this.minIntervalMs) return 'later';
    this.readAt = now;
    const file = path.join(this.dir, 'containers.json');
    let fd: number;
    try {
      fd = fs.openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.size > MAX_CONTAINERS_JSON || st.mtimeMs === this.mtimeMs) return undefined;
      const text = fs.readFileSync(fd, 'utf8');
      this.mtimeMs = st.mtimeMs;
      this.byId = parseStorageContainers(text);
      return this.byId.get(id);
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }
}
