/**
 * Container bundles as a runtime lays them out: every new `<namespace>/<container>` directory in a
 * task directory (containerd: /run/containerd/io.containerd.runtime.v2.task) is a container's
 * bundle appearing. chokidar watches them (inotify underneath); a directory that does not exist, or
 * that this process may not list, is watched once it can be. Each bundle's config.json is read once
 * as it appears (src/oci/bundle.ts), looked at again while the runtime is still writing it; then its
 * rootfs overlay is looked for until the runtime has mounted it (src/oci/rootfs.ts). What it finds
 * goes to the listener as it happens; the containers collector counts it.
 */
import * as path from 'node:path';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { errnoCode } from '../../errors';
import type { Logger } from '../../log';
import { BundleError, readBundle, type BundleErrorReason, type BundleInfo } from '../../oci/bundle';
import { RootfsLookup } from '../../oci/rootfs';

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
  /** A bundle appeared: a container start. */
  started(bundle: string): void;
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

export class BundleSource {
  private readonly watchers = new Map<string, FSWatcher>();
  /** Each task directory as the runtime names it, and as this process reads it (under --path.rootfs). */
  private readonly dirs: Array<{ given: string; seen: string }>;
  /** Bundle directories that exist now, as far as the watch told. */
  private readonly live = new Map<string, LiveBundle>();
  private readonly rootfs: RootfsLookup;

  constructor(
    private readonly opts: {
      /** Task directories as the runtime names them, and where this process reads each. */
      taskDirs: ReadonlyArray<{ given: string; seen: string }>;
      /** The watched namespace's mountinfo: its /proc/PID/root is where rootfs paths resolve. */
      mountinfoPath: string;
      /** Read each bundle's config.json and find its overlay; off, starts are only told. */
      readBundles: boolean;
      log: Logger;
    },
    private readonly listener: BundleListener,
  ) {
    this.dirs = [...opts.taskDirs];
    this.rootfs = new RootfsLookup(opts.mountinfoPath);
  }

  /** Bundles that exist now. */
  running(): Iterable<LiveBundle> {
    return this.live.values();
  }

  /** Watches each task directory that can be listed now, and stops watching those gone; the count watched. */
  async sync(): Promise<number> {
    for (const d of this.dirs) {
      const present = await this.listable(d.seen);
      const w = this.watchers.get(d.seen);
      if (present && !w) {
        await this.startWatching(d);
        this.opts.log.info('watching container task directory', { dir: d.seen });
      } else if (!present && w) {
        this.watchers.delete(d.seen);
        await w.close();
      }
    }
    return this.watchers.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    this.watchers.clear();
    this.live.clear();
  }

  /**
   * A bundle appeared: read its config.json once. Not there yet, or not whole yet, it is looked at
   * again after each of RETRY_MS while the bundle exists; gone with its bundle, it is counted so.
   */
  private read(bundle: string, runtimeDir: string, tries = 0): void {
    let b;
    try {
      b = readBundle(bundle, runtimeDir);
    } catch (err) {
      const early =
        err instanceof BundleError &&
        (err.reason === 'gone' || err.reason === 'not_json' || err.reason === 'not_an_object');
      const delay = RETRY_MS[tries];
      if (early && delay !== undefined && this.live.has(bundle) && this.watchers.size > 0) {
        setTimeout(() => this.read(bundle, runtimeDir, tries + 1), delay).unref();
        return;
      }
      this.listener.failed(bundle, err instanceof BundleError ? err.reason : 'unreadable', err);
      return;
    }
    this.listener.read(bundle, b);
    const image = b.image ?? 'unknown';
    const live = this.live.get(bundle);
    if (live) live.image = image;
    if (live && b.rootfs !== undefined) this.findLayers(bundle, b.rootfs, image);
  }

  /** The bundle's rootfs overlay, looked for until the runtime has mounted it (rootfsRetryMs, for ROOTFS_LOOK_MS) while the bundle exists. */
  private findLayers(bundle: string, rootfs: string, image: string, tries = 0, waited = 0): void {
    const live = this.live.get(bundle);
    if (!live || this.watchers.size === 0) return;
    const r = this.rootfs.layers(rootfs);
    if ('layers' in r) {
      live.layers = r.layers;
      this.listener.layers(bundle, image, r.layers);
    } else if ('notMounted' in r) {
      const delay = rootfsRetryMs(tries);
      if (waited < ROOTFS_LOOK_MS)
        setTimeout(() => this.findLayers(bundle, rootfs, image, tries + 1, waited + delay), delay).unref();
    } else if ('unavailable' in r) {
      this.listener.layersUnavailable(r.unavailable);
    }
  }

  /**
   * A task directory that exists and that this process may list. containerd makes its own 0711: a
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
      this.opts.log.recovered(`list:${dir}`, 'container task directory can be listed');
      return true;
    } catch (err) {
      this.opts.log.failure(
        `list:${dir}`,
        'warn',
        'cannot list the container task directory: container starts are not seen (run as root, or give the exporter read access to it)',
        { dir, err: errnoCode(err) ?? String(err) },
      );
      return false;
    }
  }

  private startWatching({ given, seen: dir }: { given: string; seen: string }): Promise<void> {
    // depth 1: <namespace> directories are watched, their <container> entries reported (a start);
    // nothing inside a bundle is watched (its config.json is read once, directly).
    const w = watch(dir, { ignoreInitial: true, depth: 1, persistent: false, followSymlinks: false });
    const depth = (p: string) => path.relative(dir, p).split(path.sep).length;
    w.on('addDir', (p: string) => {
      // containerd deletes a bundle by renaming it to .<id> first: that is no start.
      if (depth(p) !== 2 || path.basename(p).startsWith('.')) return;
      // chokidar can tell of one directory twice (its scan of a new namespace directory and the
      // watch racing): a bundle counts once while it exists.
      if (this.live.has(p)) return;
      if (this.live.size < MAX_LIVE) this.live.set(p, {});
      this.listener.started(p);
      this.opts.log.debug('container bundle appeared', { bundle: p });
      if (this.opts.readBundles) this.read(p, path.join(given, path.relative(dir, p)));
    });
    w.on('unlinkDir', (p: string) => {
      if (depth(p) === 2) this.live.delete(p);
    });
    w.on('error', (err) =>
      this.opts.log.failure(`watch:${dir}`, 'warn', 'container task directory watch failed', { dir, err: String(err) }),
    );
    this.watchers.set(dir, w);
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }
}
