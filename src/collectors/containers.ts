/**
 * Container starts: every new `<namespace>/<container>` directory in a runtime task directory
 * (containerd: /run/containerd/io.containerd.runtime.v2.task) is a container's bundle appearing.
 * chokidar watches them (inotify underneath); a directory that does not exist is "no data" and is
 * picked up on a later sample once the runtime creates it. Each bundle's config.json is read once
 * as it appears (src/oci/bundle.ts): the image it runs, and whether it has a user namespace. Image
 * series are bounded (--collector.containers.image-series, plus `other`).
 */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { BUNDLE_ERRORS, BundleError, readBundle, type BundleErrorReason } from '../oci/bundle';
import { positive } from '../flags';
import { BoundedLabels } from '../bounded-labels';
import { defineCollector, type Collector, type CollectorContext } from './collector';

/** The metrics this file owns, by what they measure: alerts and dashboards name them through this. */
export const CONTAINERS_METRICS = {
  containerStarts: 'mountstorm_container_starts_total',
  containerTaskDirsWatched: 'mountstorm_container_task_dirs_watched',
  imageStarts: 'mountstorm_container_image_starts_total',
  usernsStarts: 'mountstorm_container_userns_starts_total',
  bundleErrors: 'mountstorm_container_bundle_errors_total',
} as const;
const M = CONTAINERS_METRICS;

const DEFAULT_TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task';

/**
 * A config.json not there yet when its bundle appeared (a runtime writes it just after the
 * directory), or not whole yet: the delays before each further look (ms), about 2 s in all.
 */
const RETRY_MS = [20, 100, 400, 1500];
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
}

const bump = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

export class ContainersCollector implements Collector<ContainersSnapshot> {
  readonly name = 'containers';
  private readonly starts;
  private readonly watched;
  private readonly imageStarts;
  private readonly usernsStarts;
  private readonly bundleErrors;
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly dirs: string[];
  private readonly labels: BoundedLabels;
  /** Bundle directories that exist now, as far as the watch told. */
  private readonly live = new Set<string>();
  private seen = 0;
  private next: Omit<ContainersSnapshot, 'starts' | 'watched'> = ContainersCollector.empty();

  constructor(
    private readonly ctx: CollectorContext,
    taskDirs: readonly string[],
    imageSeries = 10,
    private readonly readBundles = true,
    imageIdleMs = 10 * 60_000,
  ) {
    this.starts = ctx.exposition.counter(M.containerStarts, "New container bundles seen in the runtime's task directories.");
    this.watched = ctx.exposition.gauge(M.containerTaskDirsWatched, 'Runtime task directories that exist and are being watched.');
    this.imageStarts = ctx.exposition.counter(
      M.imageStarts,
      `Container starts by the image their bundle names (CRI annotation, else an OCI one; "unknown" for none): the first ${imageSeries} images active, each keeping its series while it starts containers, the rest as "other".`,
      ['image'],
    );
    this.usernsStarts = ctx.exposition.counter(M.usernsStarts, 'Container starts whose bundle gives the container a user namespace of its own (uid mappings): the starts a per-layer idmapping runtime pays for.');
    this.bundleErrors = ctx.exposition.counter(M.bundleErrors, "Container bundles whose config.json could not be read, by reason (gone, not_a_file, too_large, not_json, not_an_object, unreadable).", ['reason']);
    for (const r of BUNDLE_ERRORS) this.bundleErrors.inc({ reason: r }, 0);
    this.labels = new BoundedLabels(imageSeries, imageIdleMs, (image) => this.imageStarts.remove({ image }));
    this.dirs = taskDirs.map((d) => ctx.paths.root(d));
  }

  private static empty(): Omit<ContainersSnapshot, 'starts' | 'watched'> {
    return { byImage: new Map(), images: new Map(), userns: 0, errors: new Map() };
  }

  private failed(bundle: string, err: unknown): void {
    const reason: BundleErrorReason = err instanceof BundleError ? err.reason : 'unreadable';
    bump(this.next.errors, reason);
    this.ctx.log.failure(`bundle:${reason}`, 'warn', `cannot read a container bundle (${reason}); counted in ${M.bundleErrors}`, { bundle, err: err instanceof Error ? err.message : String(err) });
  }

  /**
   * A bundle appeared: read its config.json once. Not there yet, or not whole yet, it is looked at
   * again after each of RETRY_MS while the bundle exists; gone with its bundle, it is counted so.
   */
  private read(bundle: string, tries = 0): void {
    try {
      const b = readBundle(bundle);
      const image = b.image ?? 'unknown';
      bump(this.next.images, image);
      bump(this.next.byImage, this.labels.label(image, Date.now()));
      if (b.userNamespace) this.next.userns++;
    } catch (err) {
      const early = err instanceof BundleError && (err.reason === 'gone' || err.reason === 'not_json' || err.reason === 'not_an_object');
      const delay = RETRY_MS[tries];
      if (early && delay !== undefined && this.live.has(bundle) && this.watchers.size > 0) {
        setTimeout(() => this.read(bundle, tries + 1), delay).unref();
        return;
      }
      this.failed(bundle, err);
    }
  }

  private async exists(dir: string): Promise<boolean> {
    try {
      return (await fs.stat(dir)).isDirectory();
    } catch {
      return false;
    }
  }

  private startWatching(dir: string): Promise<void> {
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
      if (this.live.size < MAX_LIVE) this.live.add(p);
      this.seen++;
      this.ctx.log.debug('container bundle appeared', { bundle: p });
      if (this.readBundles) this.read(p);
    });
    w.on('unlinkDir', (p: string) => {
      if (depth(p) === 2) this.live.delete(p);
    });
    w.on('error', (err) => this.ctx.log.failure(`watch:${dir}`, 'warn', 'container task directory watch failed', { dir, err: String(err) }));
    this.watchers.set(dir, w);
    return new Promise((resolve) => w.once('ready', () => resolve()));
  }

  async collect(): Promise<ContainersSnapshot> {
    for (const dir of this.dirs) {
      const present = await this.exists(dir);
      const w = this.watchers.get(dir);
      if (present && !w) {
        await this.startWatching(dir);
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
    return { starts, watched: this.watchers.size, ...read };
  }

  apply(s: ContainersSnapshot): void {
    this.starts.inc(s.starts);
    this.watched.set(s.watched);
    for (const [image, n] of s.byImage) this.imageStarts.inc({ image }, n);
    this.usernsStarts.inc(s.userns);
    for (const [reason, n] of s.errors) this.bundleErrors.inc({ reason }, n);
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
    { name: 'task-dir', kind: 'list', default: [DEFAULT_TASK_DIR], help: 'Runtime task directory (under path.rootfs) whose <namespace>/<container> entries are container starts; repeatable.' },
    { name: 'read-bundles', kind: 'bool', default: true, help: "Read each new bundle's config.json once (the image, the pod, user namespaces); off, starts are only counted." },
    { name: 'image-series', kind: 'int', default: 10, check: positive, help: `Images with a ${M.imageStarts} series of their own (the first active ones, each kept while it starts containers and given up after 10 minutes without); the rest count as image="other".` },
  ],
  options: (value) => ({ taskDirs: value('task-dir') as string[], readBundles: value('read-bundles') as boolean, imageSeries: value('image-series') as number }),
  create: (ctx, o) => new ContainersCollector(ctx, o.taskDirs, o.imageSeries, o.readBundles),
});
