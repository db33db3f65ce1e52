/**
 * The metrics the exporter exposes, rendered from the latest sample. Collectors write metrics in
 * synchronous blocks after their I/O, so a render never sees half a sample; the rendered text is
 * cached per sample generation, so any number of concurrent scrapes share one render and never
 * touch /proc.
 */
import { Counter, Gauge, Histogram, Registry, type Metric, type RegistryContentType } from 'prom-client';
import { BUILD_INFO } from './metric-names';

export type Format = 'prometheus' | 'openmetrics';

/** 10 µs … 60 s: a quiet probe sits near the bottom, a stalled kernel near the top. */
export const LATENCY_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  5, 10, 30, 60,
];

function openMetricsRegistry(): Registry<RegistryContentType> {
  const r = new Registry<RegistryContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

/**
 * A histogram filled with bucket counts aggregated elsewhere (the kernel-events thread counts durations
 * into the same buckets), so a storm's hundred thousand syscalls a second cost one add per bucket
 * here instead of one observe() each. A prom-client Histogram (its constructor validates the name,
 * labels and buckets, and registries render it as their own) whose values come from these counts.
 */
export class BucketHistogram<L extends string = string> extends Histogram<L> {
  private readonly series = new Map<
    string,
    { labels: Record<string, string>; counts: number[]; sum: number; count: number }
  >();

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    private readonly labelList: readonly L[],
  ) {
    super({ name, help, buckets: [...bounds], labelNames: labelList, registers: [] });
    // Histogram sets observe() on the instance; this one is fed by addCounts() only.
    this.observe = () => {
      throw new Error(`${name}: fed by addCounts(), not observe()`);
    };
  }

  /** Adds `counts` (per bucket, not cumulative, the last slot +Inf) and their `sum`. */
  addCounts(labels: Record<L, string>, counts: readonly number[], sum: number): void {
    if (counts.length !== this.bounds.length + 1)
      throw new Error(`${this.fields.name}: ${counts.length} counts for ${this.bounds.length} buckets`);
    const key = this.labelList.map((l) => labels[l]).join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...labels }, counts: new Array<number>(counts.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    counts.forEach((c, i) => {
      (s.counts[i] as number) += c;
      s.count += c;
    });
    s.sum += sum;
  }

  /** prom-client's declarations leave out the fields every metric has at run time. */
  private get fields(): { name: string; help: string; aggregator: 'sum' } {
    return this as unknown as { name: string; help: string; aggregator: 'sum' };
  }

  override get(): Promise<Awaited<ReturnType<Histogram<L>['get']>>> {
    const name = this.fields.name;
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { ...s.labels, le }, value: acc, metricName: `${name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${name}_count` });
    }
    const { help, aggregator } = this.fields;
    // The shape prom-client's own Histogram#get() answers (its declaration adds a collect field no render reads).
    return Promise.resolve({ name, help, type: 'histogram', aggregator, values } as unknown as Awaited<
      ReturnType<Histogram<L>['get']>
    >);
  }

  /** The registry's render asks for this where a metric has it: the same values. */
  getForPromString(): ReturnType<BucketHistogram<L>['get']> {
    return this.get();
  }

  override reset(): void {
    // Also called by prom-client's constructor, before this class's fields exist.
    (this.series as typeof this.series | undefined)?.clear();
  }
}

interface Rendered {
  generation: number;
  body: Promise<string>;
}

/**
 * What the OpenMetrics registry holds in place of a metric: its own object delegating to the
 * metric's values. prom-client's OpenMetrics render renames every counter it renders (`metric.name`
 * loses `_total`, and the counter's get() then answers with that name), so a metric object
 * registered in both registries would make every later text render name counters without `_total`.
 * The view takes the rename; the metric never sees it, whatever order or overlap the scrapes come in.
 */
function openMetricsView(m: Metric): Metric {
  // prom-client's declarations leave out the fields every metric has at run time.
  const { name, help, type, aggregator } = m as unknown as {
    name: string;
    help: string;
    type: string;
    aggregator: string;
  };
  const view = {
    name,
    help,
    type,
    aggregator,
    async get() {
      // Counter#get() reports the name the metric was made with; the render appends `_total` to it.
      const data = await m.get();
      return { ...data, name: view.name };
    },
  };
  return view as unknown as Metric;
}

export class Exposition {
  private readonly registries: Record<Format, Registry<RegistryContentType>> = {
    prometheus: new Registry(),
    openmetrics: openMetricsRegistry(),
  };
  private generation = 0;
  private readonly cache = new Map<Format, Rendered>();

  /** With a version, the exposition carries BUILD_INFO for it. */
  constructor(version?: string) {
    if (version !== undefined)
      this.gauge(BUILD_INFO, 'Version of mountstorm and of the Node.js runtime it runs on; value is 1.', [
        'version',
        'nodejs',
      ]).set({ version, nodejs: process.version }, 1);
  }

  /** Every metric is in both registries (the OpenMetrics one through a view), so either format shows the same state. */
  private register<M extends Metric>(m: M): M {
    this.registries.prometheus.registerMetric(m);
    this.registries.openmetrics.registerMetric(openMetricsView(m));
    return m;
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.register(new Counter({ name, help, labelNames, registers: [] }));
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.register(new Gauge({ name, help, labelNames, registers: [] }));
  }

  histogram<L extends string>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ): Histogram<L> {
    return this.register(new Histogram({ name, help, labelNames, buckets, registers: [] }));
  }

  bucketHistogram<L extends string>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ): BucketHistogram<L> {
    return this.register(new BucketHistogram(name, help, buckets, labelNames));
  }

  /** A sample finished: the next scrape renders anew. */
  invalidate(): void {
    this.generation++;
  }

  contentType(format: Format): string {
    return this.registries[format].contentType;
  }

  render(format: Format): Promise<string> {
    const hit = this.cache.get(format);
    if (hit && hit.generation === this.generation) return hit.body;
    const body = this.registries[format].metrics();
    this.cache.set(format, { generation: this.generation, body });
    body.catch(() => this.cache.delete(format));
    return body;
  }
}
