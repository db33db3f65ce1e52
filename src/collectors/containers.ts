/**
 * Container starts: every new `<namespace>/<container>` directory in a runtime task directory
 * (containerd: /run/containerd/io.containerd.runtime.v2.task) is a container's bundle appearing.
 * chokidar watches them (inotify underneath); a directory that does not exist is "no data" and is
 * picked up on a later sample once the runtime creates it. Each bundle's config.json is read once
 * as it appears (src/oci/bundle.ts): the image it runs, and whether it has a user namespace; then
 * its rootfs overlay, once the runtime has mounted it (src/oci/rootfs.ts): the image's layers. Image
 * series are bounded (--collector.containers.image-series, plus `other`).
 */
import * as path from 'node:path';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { BUNDLE_ERRORS, BundleError, readBundle, type BundleErrorReason } from '../oci/bundle';
import { RootfsLookup } from '../oci/rootfs';
import { positive } from '../flags';
import { BoundedLabels } from '../bounded-labels';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { errnoCode } from '../errors';

/** The metrics this file owns, by what they measure: alerts and dashboards name them through this. */
export const CONTAINERS_METRICS = {
  containerStarts: 'mountstorm_container_starts_total',
  containerTaskDirsWatched: 'mountstorm_container_task_dirs_watched',
  imageStarts: 'mountstorm_container_image_starts_total',
  usernsStarts: 'mountstorm_container_userns_starts_total',
  bundleErrors: 'mountstorm_container_bundle_errors_total',
  imageStartLayers: 'mountstorm_container_image_start_layers_total',
  imageLayers: 'mountstorm_container_image_layers',
} as const;
const M = CONTAINERS_METRICS;

const DEFAULT_TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task';

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

export interface ContainersSnapshot {
  /** Bundles that appeared since the last sample. */
  starts: number;
  /** Task directories that exist and are watched. */
  watched: number;
  /** Bundles read since the last sample, by image label (bounded: the image, or `other`); `unknown` for none named. */
  byImage: Map<string, number>;
  /** The same by the image's own name, unbounded (the node's alert descriptions name the top one). */
  images: Map<string, number>;
  /** Of those, the ones in a user namespace of their own. */
  userns: number;
  /** Bundles that could not be read, by reason. */
  errors: Map<BundleErrorReason, number>;
  /** Rootfs overlays found since the last sample: their lower layers summed by image label (starts × layers). */
  startLayersByImage: Map<string, number>;
  /** The same by the image's own name, unbounded. */
  startLayers: Map<string, number>;
  /** The deepest images running now (their rootfs overlays' lower layers), deepest first, at most image-series of them. */
  deepest: Array<{ image: string; layers: number; containers: number }>;
}

const bump = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** A bundle that exists: the image it named (once read) and its rootfs overlay's lower layers (once found). */
interface LiveBundle {
  image?: string;
  layers?: number;
}
type Pending = Omit<ContainersSnapshot, 'starts' | 'watched' | 'deepest'>;

export class ContainersCollector implements Collector<ContainersSnapshot> {
  readonly name = 'containers';
  private readonly starts;
  private readonly watched;
  private readonly imageStarts;
  private readonly usernsStarts;
  private readonly bundleErrors;
  private readonly imageStartLayers;
  private readonly imageLayers;
  private readonly rootfs: RootfsLookup;
  private readonly watchers = new Map<string, FSWatcher>();
  /** Each task directory as the runtime names it, and as this process reads it (under --path.rootfs). */
  private readonly dirs: Array<{ given: string; seen: string }>;
  private readonly labels: BoundedLabels;
  /** Bundle directories that exist now, as far as the watch told. */
  private readonly live = new Map<string, LiveBundle>();
  private seen = 0;
  private next: Pending = ContainersCollector.empty();

  constructor(
    private readonly ctx: CollectorContext,
    taskDirs: readonly string[],
    imageSeries = 10,
    private readonly readBundles = true,
    imageIdleMs = 10 * 60_000,
  ) {
    this.starts = ctx.exposition.counter(
      M.containerStarts,
      "New container bundles seen in the runtime's task directories.",
    );
    this.watched = ctx.exposition.gauge(
      M.containerTaskDirsWatched,
      'Runtime task directories that exist and are being watched.',
    );
    this.imageStarts = ctx.exposition.counter(
      M.imageStarts,
      `Container starts by the image their bundle names (CRI annotation, else an OCI one; "unknown" for none): the first ${imageSeries} images active, each keeping its series while it starts containers, the rest as "other".`,
      ['image'],
    );
    this.usernsStarts = ctx.exposition.counter(
      M.usernsStarts,
      'Container starts whose bundle gives the container a user namespace of its own (uid mappings): the starts a per-layer idmapping runtime pays for.',
    );
    this.bundleErrors = ctx.exposition.counter(
      M.bundleErrors,
      'Container bundles whose config.json could not be read, by reason (gone, not_a_file, too_large, not_json, not_an_object, unreadable).',
      ['reason'],
    );
    for (const r of BUNDLE_ERRORS) this.bundleErrors.inc({ reason: r }, 0);
    this.imageStartLayers = ctx.exposition.counter(
      M.imageStartLayers,
      `Lower layers of the rootfs overlay of each container start, summed by image (starts × layers: the mounts a per-layer idmapping runtime makes for it); image labels as in ${M.imageStarts}.`,
      ['image'],
    );
    this.imageLayers = ctx.exposition.gauge(
      M.imageLayers,
      `Lower layers of the rootfs overlay of the deepest running container of each image: the ${imageSeries} deepest images running.`,
      ['image'],
    );
    this.labels = new BoundedLabels(imageSeries, imageIdleMs, (image) => {
      this.imageStarts.remove({ image });
      this.imageStartLayers.remove({ image });
    });
    this.dirs = taskDirs.map((d) => ({ given: d, seen: ctx.paths.root(d) }));
    this.rootfs = new RootfsLookup(ctx.mountinfoPath);
  }

  private static empty(): Pending {
    return {
      byImage: new Map(),
      images: new Map(),
      userns: 0,
      errors: new Map(),
      startLayersByImage: new Map(),
      startLayers: new Map(),
    };
  }

  private failed(bundle: string, err: unknown): void {
    const reason: BundleErrorReason = err instanceof BundleError ? err.reason : 'unreadable';
    bump(this.next.errors, reason);
    this.ctx.log.failure(
      `bundle:${reason}`,
      'warn',
      `cannot read a container bundle (${reason}); counted in ${M.bundleErrors}`,
      { bundle, err: err instanceof Error ? err.message : String(err) },
    );
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
      this.failed(bundle, err);
      return;
    }
    const image = b.image ?? 'unknown';
    bump(this.next.images, image);
    bump(this.next.byImage, this.labels.label(image, Date.now()));
    if (b.userNamespace) this.next.userns++;
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
      bump(this.next.startLayers, image, r.layers);
      bump(this.next.startLayersByImage, this.labels.label(image, Date.now()), r.layers);
    } else if ('notMounted' in r) {
      const delay = rootfsRetryMs(tries);
      if (waited < ROOTFS_LOOK_MS)
        setTimeout(() => this.findLayers(bundle, rootfs, image, tries + 1, waited + delay), delay).unref();
    } else if ('unavailable' in r) {
      this.ctx.log.failure(
        'rootfs:unavailable',
        'info',
        `image layers are not known here: ${r.unavailable}; ${M.imageLayers} stays empty (mountstorm doctor reads them from the table)`,
        {},
      );
    }
  }

  /** The deepest images running, from the bundles that exist and whose overlay was found. */
  private deepest(): ContainersSnapshot['deepest'] {
    const by = new Map<string, { image: string; layers: number; containers: number }>();
    for (const b of this.live.values()) {
      if (b.layers === undefined || b.image === undefined) continue;
      const r = by.get(b.image) ?? { image: b.image, layers: 0, containers: 0 };
      r.layers = Math.max(r.layers, b.layers);
      r.containers++;
      by.set(b.image, r);
    }
    return [...by.values()]
      .sort((a, b) => b.layers - a.layers || b.containers - a.containers || (a.image < b.image ? -1 : 1))
      .slice(0, this.labels.slots);
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
      this.ctx.log.recovered(`list:${dir}`, 'container task directory can be listed');
      return true;
    } catch (err) {
      this.ctx.log.failure(
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
      this.seen++;
      this.ctx.log.debug('container bundle appeared', { bundle: p });
      if (this.readBundles) this.read(p, path.join(given, path.relative(dir, p)));
    });
    w.on('unlinkDir', (p: string) => {
      if (depth(p) === 2) this.live.delete(p);
    });
    w.on('error', (err) =>
      this.ctx.log.failure(`watch:${dir}`, 'warn', 'container task directory watch failed', { dir, err: String(err) }),
    );
    this.watchers.set(dir, w);
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  async collect(): Promise<ContainersSnapshot> {
    for (const d of this.dirs) {
      const dir = d.seen;
      const present = await this.listable(dir);
      const w = this.watchers.get(dir);
      if (present && !w) {
        await this.startWatching(d);
        this.ctx.log.info('watching container task directory', { dir });
      } else if (!present && w) {
        this.watchers.delete(dir);
        await w.close();
      }
    }
    const starts = this.seen;
    this.seen = 0;
    const read = this.next;
    this.next = ContainersCollector.empty();
    return { starts, watched: this.watchers.size, ...read, deepest: this.deepest() };
  }

  apply(s: ContainersSnapshot): void {
    this.starts.inc(s.starts);
    this.watched.set(s.watched);
    for (const [image, n] of s.byImage) this.imageStarts.inc({ image }, n);
    this.usernsStarts.inc(s.userns);
    for (const [reason, n] of s.errors) this.bundleErrors.inc({ reason }, n);
    for (const [image, n] of s.startLayersByImage) this.imageStartLayers.inc({ image }, n);
    this.imageLayers.reset();
    for (const d of s.deepest) this.imageLayers.set({ image: d.image }, d.layers);
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchers.values()].map((w) => w.close()));
    this.watchers.clear();
    this.live.clear();
  }
}

export const containersCollector = defineCollector({
  name: 'containers',
  defaultEnabled: true,
  help: "container starts seen in the runtime's task directories, by image (each bundle's config.json), user-namespaced or not.",
  flags: [
    {
      name: 'task-dir',
      kind: 'list',
      default: [DEFAULT_TASK_DIR],
      help: 'Runtime task directory (under path.rootfs) whose <namespace>/<container> entries are container starts; repeatable.',
    },
    {
      name: 'read-bundles',
      kind: 'bool',
      default: true,
      help: "Read each new bundle's config.json once (the image, the pod, user namespaces) and find its rootfs overlay (the image's layers); off, starts are only counted.",
    },
    {
      name: 'image-series',
      kind: 'int',
      default: 10,
      check: positive,
      help: `Images with a ${M.imageStarts} series of their own (the first active ones, each kept while it starts containers and given up after 10 minutes without); the rest count as image="other".`,
    },
  ],
  options: (value) => ({
    taskDirs: value('task-dir') as string[],
    readBundles: value('read-bundles') as boolean,
    imageSeries: value('image-series') as number,
  }),
  create: (ctx, o) => new ContainersCollector(ctx, o.taskDirs, o.imageSeries, o.readBundles),
});
