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

/** A config.json not there yet when its bundle appeared, or not whole yet: how long to wait for it. */
const CONFIG_WAIT_MS = 2000;
/** Bundles waiting for their config.json, at most (a runtime that never writes one must not grow this). */
const MAX_PENDING = 4096;
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
  /** Bundle directories seen whose config.json has not been read yet, with when they appeared. */
  private readonly pending = new Map<string, number>();
  /** Bundle directories that exist now, as far as the watch told. */
  private readonly live = new Set<string>();
  private seen = 0;
  private next: Omit<ContainersSnapshot, 'starts' | 'watched'> = ContainersCollector.empty();

  constructor(
    private readonly ctx: CollectorContext,
    taskDirs: readonly string[],
    imageSeries = 10,
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

  /** config.json appeared in a bundle: read it once (again once, a moment later, if it is not whole yet). */
  private async read(bundle: string, retry = true): Promise<void> {
    if (!this.pending.delete(bundle) && retry) return; // read already, or its bundle is gone
    try {
      const b = await readBundle(bundle);
      const image = b.image ?? 'unknown';
      bump(this.next.images, image);
      bump(this.next.byImage, this.labels.label(image, Date.now()));
      if (b.userNamespace) this.next.userns++;
    } catch (err) {
      if (retry && err instanceof BundleError && (err.reason === 'not_json' || err.reason === 'not_an_object')) {
        // Caught mid-write: look once more when the writer is likely done.
        this.pending.set(bundle, Date.now());
        setTimeout(() => void (this.pending.delete(bundle) ? this.read(bundle, false) : undefined), 250).unref();
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
    const w = watch(dir, { ignoreInitial: true, depth: 2, persistent: false, followSymlinks: false, ignored: (p, st) => st?.isFile() === true && path.basename(p) !== 'config.json' });
    // depth 1 = <namespace>, 2 = <namespace>/<container> (a start), 3 = its files: config.json is read.
    const depth = (p: string) => path.relative(dir, p).split(path.sep).length;
    w.on('addDir', (p: string) => {
      if (depth(p) === 3 && path.basename(p) === 'config.json') void this.read(path.dirname(p)); // not a file: said so
      // containerd deletes a bundle by renaming it to .<id> first: that is no start.
      if (depth(p) !== 2 || path.basename(p).startsWith('.')) return;
      // chokidar can tell of one directory twice (its scan of a new namespace directory and the
      // watch racing): a bundle counts once while it exists.
      if (this.live.has(p)) return;
      if (this.live.size < MAX_LIVE) this.live.add(p);
      this.seen++;
      this.ctx.log.debug('container bundle appeared', { bundle: p });
      if (this.pending.size < MAX_PENDING) this.pending.set(p, Date.now());
    });
    w.on('add', (p: string) => {
      if (depth(p) === 3 && path.basename(p) === 'config.json') void this.read(path.dirname(p));
    });
    w.on('unlinkDir', (p: string) => {
      if (depth(p) === 2) this.live.delete(p);
      // Gone before its config.json was seen: a start nobody can name.
      if (depth(p) === 2 && this.pending.delete(p)) this.failed(p, new BundleError('gone', 'the bundle was gone before its config.json was read'));
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
    // A bundle whose config.json never came: counted once, and forgotten.
    const now = Date.now();
    for (const [bundle, at] of this.pending) if (now - at > CONFIG_WAIT_MS) {
      this.pending.delete(bundle);
      this.failed(bundle, new BundleError('gone', 'no config.json appeared in the bundle'));
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
    this.pending.clear();
    this.live.clear();
  }
}

export const containersCollector = defineCollector({
  name: 'containers',
  defaultEnabled: true,
  help: "container starts seen in the runtime's task directories.",
  flags: [
    { name: 'task-dir', kind: 'list', default: [DEFAULT_TASK_DIR], help: 'Runtime task directory (under path.rootfs) whose <namespace>/<container> entries are container starts; repeatable.' },
    { name: 'image-series', kind: 'int', default: 10, check: positive, help: `Images with a ${M.imageStarts} series of their own (the first active ones, each kept while it starts containers and given up after 10 minutes without); the rest count as image="other".` },
  ],
  options: (value) => ({ taskDirs: value('task-dir') as string[], imageSeries: value('image-series') as number }),
  create: (ctx, o) => new ContainersCollector(ctx, o.taskDirs, o.imageSeries),
});
