/**
 * Container bundles as each runtime lays them out (src/oci/runtimes.ts): a new `<namespace>/<id>`
 * directory in containerd's task directory, or a new `<id>/userdata/config.json` in a
 * containers/storage store (Podman, CRI-O), is a container's start. A TaskDirWatch (task-watch.ts)
 * watches containerd's, a StoreWatch (store-watch.ts) each store's: Node's own inotify watches, each
 * placed before its directory is listed. A directory that does not exist, or that this process may
 * not list, is watched once it can be. Each bundle's config.json is read once as it appears
 * (src/oci/bundle.ts), looked at again while the runtime is still writing it; then its rootfs
 * overlay is looked for until the runtime has mounted it (src/oci/rootfs.ts). What it finds goes to
 * the listener as it happens; the containers collector counts it.
 */
import * as path from 'node:path';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { errnoCode } from '../../errors';
import type { Logger } from '../../log';
import { BundleError, readBundle, type BundleErrorReason, type BundleInfo } from '../../oci/bundle';
import { RootfsLookup } from '../../oci/rootfs';
import {
  containerdRuntime,
  storageContainerDirs,
  StorageContainers,
  storageRuntime,
  type LayoutKind,
  type Runtime,
  type RuntimeDir,
} from '../../oci/runtimes';
import { StoreWatch } from './store-watch';
import { TaskDirWatch } from './task-watch';

/**
 * A config.json not there yet when its bundle appeared (a runtime writes it just after the
 * directory), or not whole yet: the delays before each further look (ms), about 2 s in all.
 */
const RETRY_MS = [20, 100, 400, 1500];
/**
 * A rootfs not mounted yet: the runtime's shim mounts it after writing the bundle, and in a storm
 * that step is the one that waits on the mount locks. Looked for again after 10 ms, doubling to
 * every 250 ms, for 30 s: one statx each (a few µs), so a short-lived container is still seen.
 */
const rootfsRetryMs = (tries: number) => Math.min(10 * 2 ** tries, 250);
const ROOTFS_LOOK_MS = 30_000;
/** Bundles remembered as existing, at most (a node runs far fewer containers). */
const MAX_LIVE = 65_536;

/** What the source tells as it happens. */
export interface BundleListener {
  /** A bundle appeared: a container start, by the runtime that made it. */
  started(bundle: string, runtime: Runtime): void;
  /** Its config.json, read: the image it names, its user namespace, its masked paths. */
  read(bundle: string, info: BundleInfo): void;
  /** Its config.json could not be read. */
  failed(bundle: string, reason: BundleErrorReason, err: unknown): void;
  /** Its rootfs overlay, found: the image's lower layers. */
  layers(bundle: string, image: string, layers: number): void;
  /** Layers cannot be found on this host at all (said once by the listener's log). */
  layersUnavailable(why: string): void;
}

/** A bundle that exists: the image it named (once read) and its rootfs overlay's lower layers (once found). */
export interface LiveBundle {
  image?: string;
  layers?: number;
}

/** A directory watched: a containerd task directory, or a store's `<driver>-containers`. */
interface Watched {
  layout: LayoutKind;
  /** As the runtime names it, and as this process reads it (under --path.rootfs). */
  given: string;
  seen: string;
  /** containers/storage: its containers.json, for the names Podman keeps out of the spec. */
  store?: StorageContainers;
}

/** A bundle the watch told of, as the runtime names it and as this process reads it. */
interface Found {
  key: string;
  seen: string;
  given: string;
  from: Watched;
}

export class BundleSource {
  /** The watch on each runtime directory: a TaskDirWatch on containerd's, a StoreWatch on a store's. */
  private readonly watchers = new Map<string, { close(): Promise<void> }>();
  /** Bundles that exist now, as far as the watch told, by key (a task's path; a stored container's id). */
  private readonly live = new Map<string, LiveBundle>();
  private readonly rootfs: RootfsLookup;

  constructor(
    private readonly opts: {
      /** Runtime directories as the runtime names them, and where this process reads each. */
      dirs: ReadonlyArray<RuntimeDir & { seen: string }>;
      /** The watched namespace's mountinfo: its /proc/PID/root is where rootfs paths resolve. */
      mountinfoPath: string;
      /** Read each bundle's config.json and find its overlay; off, starts are only told. */
      readBundles: boolean;
      log: Logger;
    },
    private readonly listener: BundleListener,
  ) {
    this.rootfs = new RootfsLookup(opts.mountinfoPath);
  }

  /** Bundles that exist now. */
  running(): Iterable<LiveBundle> {
    return this.live.values();
  }

  /** The directories to watch now: each task directory; each store's per-driver container directories. */
  private targets(): Watched[] {
    return this.opts.dirs.flatMap((d): Watched[] =>
      d.layout === 'containerd'
        ? [{ layout: d.layout, given: d.dir, seen: d.seen }]
        : storageContainerDirs(d.seen).map((seen) => ({
            layout: d.layout,
            given: path.join(d.dir, path.basename(seen)),
            seen,
          })),
    );
  }

  /** Watches each runtime directory that can be listed now, and stops watching those gone; the count watched. */
  async sync(): Promise<number> {
    const want = this.targets();
    for (const d of want) {
      if (this.watchers.has(d.seen) || !(await this.listable(d.seen))) continue;
      this.startWatching(d);
      this.opts.log.info('watching container runtime directory', { dir: d.seen, layout: d.layout });
    }
    for (const [dir, w] of this.watchers) {
      if (want.some((d) => d.seen === dir) && (await this.listable(dir))) continue;
      this.watchers.delete(dir);
      await w.close();
    }
    return this.watchers.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    this.watchers.clear();
    this.live.clear();
  }

  /**
   * A bundle's config.json, read once. Not there yet, or not whole yet, it is looked at again after
   * each of RETRY_MS while the bundle exists (`whileLive`); then `done` gets it, or why not.
   */
  private read(
    f: Found,
    whileLive: boolean,
    done: (r: { info: BundleInfo } | { reason: BundleErrorReason; err: unknown }) => void,
    tries = 0,
  ): void {
    try {
      done({ info: readBundle(f.seen, f.given) });
    } catch (err) {
      const early =
        err instanceof BundleError &&
        (err.reason === 'gone' || err.reason === 'not_json' || err.reason === 'not_an_object');
      const delay = RETRY_MS[tries];
      if (early && delay !== undefined && (!whileLive || this.live.has(f.key)) && this.watchers.size > 0) {
        setTimeout(() => this.read(f, whileLive, done, tries + 1), delay).unref();
        return;
      }
      done({ reason: err instanceof BundleError ? err.reason : 'unreadable', err });
    }
  }

  /**
   * A containerd task appeared: a start, whatever its config says; then its config, read (`read`
   * false: it had gone again before it was looked at, so there is none to read).
   */
  private taskAppeared(f: Found, namespace: string, read: boolean): void {
    if (this.live.has(f.key)) return;
    if (this.live.size < MAX_LIVE) this.live.set(f.key, {});
    this.listener.started(f.seen, containerdRuntime(namespace));
    this.opts.log.debug('container bundle appeared', { bundle: f.seen, gone: !read });
    if (read && this.opts.readBundles) this.read(f, true, (r) => this.tell(f, r));
  }

  /**
   * A stored container's config.json appeared: a start, counted once per id whichever root told of
   * it; the spec says which runtime wrote it (read-bundles off: `unknown`), and Podman's image name
   * comes from containers.json.
   */
  private storedAppeared(f: Found): void {
    if (this.live.has(f.key)) return;
    if (this.live.size < MAX_LIVE) this.live.set(f.key, {});
    this.opts.log.debug('stored container spec appeared', { bundle: f.seen });
    if (!this.opts.readBundles) {
      this.listener.started(f.seen, 'unknown');
      return;
    }
    this.read(f, false, (r) => {
      this.listener.started(f.seen, storageRuntime('info' in r ? r.info : undefined));
      if ('info' in r && r.info.image === undefined && r.info.manager === 'libpod') this.nameFromStore(f, r.info);
      else this.tell(f, r);
    });
  }

  /** Podman's image and container name, from the store's containers.json (read again, briefly, while it lags). */
  private nameFromStore(f: Found, info: BundleInfo, tries = 0): void {
    const e = f.from.store?.lookup(info.id);
    const delay = RETRY_MS[tries];
    if ((e === 'later' || e === undefined) && delay !== undefined && this.live.has(f.key)) {
      setTimeout(() => this.nameFromStore(f, info, tries + 1), delay).unref();
      return;
    }
    const found = e === 'later' ? undefined : e;
    this.tell(f, { info: { ...info, image: found?.image, containerName: info.containerName ?? found?.name } });
  }

  private tell(f: Found, r: { info: BundleInfo } | { reason: BundleErrorReason; err: unknown }): void {
    if (!('info' in r)) {
      this.listener.failed(f.seen, r.reason, r.err);
      return;
    }
    const b = r.info;
    this.listener.read(f.seen, b);
    const image = b.image ?? 'unknown';
    const live = this.live.get(f.key);
    if (live) live.image = image;
    if (live && b.rootfs !== undefined) this.findLayers(f.key, f.seen, b.rootfs, image);
  }

  /** The bundle's rootfs overlay, looked for until the runtime has mounted it (rootfsRetryMs, for ROOTFS_LOOK_MS) while the bundle exists. */
  private findLayers(key: string, bundle: string, rootfs: string, image: string, tries = 0, waited = 0): void {
    const live = this.live.get(key);
    if (!live || this.watchers.size === 0) return;
    const r = this.rootfs.layers(rootfs);
    if ('layers' in r) {
      live.layers = r.layers;
      this.listener.layers(bundle, image, r.layers);
    } else if ('notMounted' in r) {
      const delay = rootfsRetryMs(tries);
      if (waited < ROOTFS_LOOK_MS)
        setTimeout(() => this.findLayers(key, bundle, rootfs, image, tries + 1, waited + delay), delay).unref();
    } else if ('unavailable' in r) {
      this.listener.layersUnavailable(r.unavailable);
    }
  }

  /**
   * A runtime directory that exists and that this process may list. containerd makes its own 0711: a
   * non-root exporter can reach a bundle by name but never learns its name, so sees no start.
   */
  private async listable(dir: string): Promise<boolean> {
    try {
      if (!(await fs.stat(dir)).isDirectory()) return false;
    } catch {
      return false;
    }
    try {
      await fs.access(dir, fsConstants.R_OK | fsConstants.X_OK);
      this.opts.log.recovered(`list:${dir}`, 'container runtime directory can be listed');
      return true;
    } catch (err) {
      this.opts.log.failure(
        `list:${dir}`,
        'warn',
        'cannot list the container runtime directory: container starts are not seen (run as root, or give the exporter read access to it)',
        { dir, err: errnoCode(err) ?? String(err) },
      );
      return false;
    }
  }

  private startWatching(d: Watched): void {
    const dir = d.seen;
    const found = (key: string, rel: string[]): Found => ({
      key,
      seen: path.join(dir, ...rel),
      given: path.join(d.given, ...rel),
      from: d,
    });
    const failed = (err: unknown) =>
      this.opts.log.failure(`watch:${dir}`, 'warn', 'container runtime directory watch failed', {
        dir,
        err: String(err),
      });
    const watch = (): { close(): Promise<void> } => {
      if (d.layout === 'containers-storage') {
        // Each <id>/userdata/config.json as it appears (a start); nothing else in a bundle is read.
        d.store = new StorageContainers(dir);
        return new StoreWatch(dir, {
          spec: (id) => this.storedAppeared(found(`storage:${id}`, [id, 'userdata'])),
          gone: (id) => this.live.delete(`storage:${id}`),
          error: failed,
        });
      }
      // containerd: each <namespace>/<id> as it appears (a start); nothing inside a bundle is
      // watched (its config.json is read once, directly).
      return new TaskDirWatch(dir, {
        task: (ns, id, gone) => {
          const f = found(path.join(dir, ns, id), [ns, id]);
          this.taskAppeared(f, ns, !gone);
          if (gone) this.live.delete(f.key);
        },
        gone: (ns, id) => this.live.delete(path.join(dir, ns, id)),
        error: failed,
      });
    };
    try {
      this.watchers.set(dir, watch());
    } catch (err) {
      failed(err); // gone since it was listed: watched again once it is back
    }
  }
}
