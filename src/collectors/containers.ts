/**
 * Container starts, from the bundles each runtime lays out (the bundle source, src/sources/bundles/:
 * containerd's task directories, Podman's and CRI-O's containers/storage): starts by runtime, the
 * image each names, user namespaces, and its rootfs overlay's layers. Image series are bounded
 * (--collector.containers.image-series, plus `other`).
 */
import { BUNDLE_ERRORS, type BundleErrorReason } from '../oci/bundle';
import {
  DEFAULT_STORAGE_DIRS,
  DEFAULT_TASK_DIRS,
  RUNTIMES,
  runtimeDirs,
  type Runtime,
  type RuntimeDir,
} from '../oci/runtimes';
import { BundleSource } from '../sources/bundles/source';
import { positive } from '../flags';
import { BoundedLabels } from '../bounded-labels';
import { defineCollector, type Collector, type CollectorContext } from './collector';
import { CONTAINERS_METRICS } from '../metric-names';

const M = CONTAINERS_METRICS;

export interface ContainersSnapshot {
  /** Bundles that appeared since the last sample, by the runtime that made them. */
  starts: Map<Runtime, number>;
  /** Runtime directories that exist and are watched. */
  watched: number;
  /** Bundles read since the last sample, by image label (bounded: the image, or `other`); `unknown` for none named. */
  byImage: Map<string, number>;
  /** The same by the image's own name, unbounded (the node's alert descriptions name the top one). */
  images: Map<string, number>;
  /** Of those, the ones in a user namespace of their own. */
  userns: number;
  /** Their masked paths (linux.maskedPaths), summed: one mount each the OCI runtime makes; and those per CPU. */
  maskedPaths: number;
  perCpuMaskedPaths: number;
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

type Pending = Omit<ContainersSnapshot, 'starts' | 'watched' | 'deepest'>;

export class ContainersCollector implements Collector<ContainersSnapshot> {
  readonly name = 'containers';
  private readonly starts;
  private readonly watched;
  private readonly imageStarts;
  private readonly usernsStarts;
  private readonly maskedPaths;
  private readonly bundleErrors;
  private readonly imageStartLayers;
  private readonly imageLayers;
  private readonly source: BundleSource;
  private readonly labels: BoundedLabels;
  private seen = new Map<Runtime, number>();
  private next: Pending = ContainersCollector.empty();

  constructor(
    private readonly ctx: CollectorContext,
    dirs: readonly RuntimeDir[],
    imageSeries = 10,
    readBundles = true,
    imageIdleMs = 10 * 60_000,
  ) {
    this.starts = ctx.exposition.counter(
      M.containerStarts,
      "Container starts seen in the runtimes' own records, by runtime: a new task bundle in containerd's task directory (runtime containerd, or docker for its moby namespace), a new container spec in containers/storage (cri-o or podman, as the spec says; unknown where it does not).",
      ['runtime'],
    );
    for (const runtime of RUNTIMES) this.starts.inc({ runtime }, 0);
    this.watched = ctx.exposition.gauge(
      M.containerTaskDirsWatched,
      "Runtime directories that exist and are being watched (containerd's task directories, containers/storage's container directories): 0 means no runtime's starts are seen, and the start signal is the kernel's new mount namespaces.",
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
    this.maskedPaths = ctx.exposition.counter(
      M.maskedPaths,
      'Masked paths (linux.maskedPaths) of the container starts read, one mount each the OCI runtime makes in the new container; scope="per_cpu" for those with a cpu<N> component (the thermal_throttle masks kubelet and containerd add for every CPU), "other" for the rest.',
      ['scope'],
    );
    for (const scope of ['per_cpu', 'other']) this.maskedPaths.inc({ scope }, 0);
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
    const next = () => this.next;
    this.source = new BundleSource(
      {
        dirs: dirs.map((d) => ({ ...d, seen: ctx.paths.root(d.dir) })),
        mountinfoPath: ctx.mountinfoPath,
        readBundles,
        log: ctx.log,
      },
      {
        started: (_bundle, runtime) => bump(this.seen, runtime),
        read: (_bundle, b) => {
          const image = b.image ?? 'unknown';
          bump(next().images, image);
          bump(next().byImage, this.labels.label(image, Date.now()));
          if (b.userNamespace) next().userns++;
          next().maskedPaths += b.maskedPaths;
          next().perCpuMaskedPaths += b.perCpuMaskedPaths;
        },
        failed: (bundle, reason, err) => this.failed(bundle, reason, err),
        layers: (_bundle, image, layers) => {
          bump(next().startLayers, image, layers);
          bump(next().startLayersByImage, this.labels.label(image, Date.now()), layers);
        },
        layersUnavailable: (why) =>
          ctx.log.failure(
            'rootfs:unavailable',
            'info',
            `image layers are not known here: ${why}; ${M.imageLayers} stays empty (mountstorm doctor reads them from the table)`,
            {},
          ),
      },
    );
  }

  private static empty(): Pending {
    return {
      byImage: new Map(),
      images: new Map(),
      userns: 0,
      maskedPaths: 0,
      perCpuMaskedPaths: 0,
      errors: new Map(),
      startLayersByImage: new Map(),
      startLayers: new Map(),
    };
  }

  private failed(bundle: string, reason: BundleErrorReason, err: unknown): void {
    bump(this.next.errors, reason);
    this.ctx.log.failure(
      `bundle:${reason}`,
      'warn',
      `cannot read a container bundle (${reason}); counted in ${M.bundleErrors}`,
      { bundle, err: err instanceof Error ? err.message : String(err) },
    );
  }

  /** The deepest images running, from the bundles that exist and whose overlay was found. */
  private deepest(): ContainersSnapshot['deepest'] {
    const by = new Map<string, { image: string; layers: number; containers: number }>();
    for (const b of this.source.running()) {
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

  async collect(): Promise<ContainersSnapshot> {
    const watched = await this.source.sync();
    const starts = this.seen;
    this.seen = new Map();
    const read = this.next;
    this.next = ContainersCollector.empty();
    return { starts, watched, ...read, deepest: this.deepest() };
  }

  apply(s: ContainersSnapshot): void {
    for (const [runtime, n] of s.starts) this.starts.inc({ runtime }, n);
    this.watched.set(s.watched);
    for (const [image, n] of s.byImage) this.imageStarts.inc({ image }, n);
    this.usernsStarts.inc(s.userns);
    this.maskedPaths.inc({ scope: 'per_cpu' }, s.perCpuMaskedPaths);
    this.maskedPaths.inc({ scope: 'other' }, s.maskedPaths - s.perCpuMaskedPaths);
    for (const [reason, n] of s.errors) this.bundleErrors.inc({ reason }, n);
    for (const [image, n] of s.startLayersByImage) this.imageStartLayers.inc({ image }, n);
    this.imageLayers.reset();
    for (const d of s.deepest) this.imageLayers.set({ image: d.image }, d.layers);
  }

  close(): Promise<void> {
    return this.source.close();
  }
}

export const containersCollector = defineCollector({
  name: 'containers',
  defaultEnabled: true,
  help: "container starts seen in each runtime's own records (containerd's task directories, Podman's and CRI-O's containers/storage), by runtime and image (each bundle's config.json), user-namespaced or not.",
  flags: [
    {
      name: 'task-dir',
      kind: 'list',
      default: DEFAULT_TASK_DIRS,
      help: "containerd task directory (under path.rootfs) whose <namespace>/<container> entries are container starts (every namespace: k8s.io, Docker's moby, default); repeatable.",
    },
    {
      name: 'storage-dir',
      kind: 'list',
      default: DEFAULT_STORAGE_DIRS,
      help: "containers/storage root (under path.rootfs: the graph root and the run root) whose <driver>-containers/<id>/userdata/config.json entries are Podman's and CRI-O's container starts; repeatable.",
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
    dirs: runtimeDirs(value('task-dir') as string[], value('storage-dir') as string[]),
    readBundles: value('read-bundles') as boolean,
    imageSeries: value('image-series') as number,
  }),
  create: (ctx, o) => new ContainersCollector(ctx, o.dirs, o.imageSeries, o.readBundles),
});
