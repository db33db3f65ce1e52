/**
 * The metrics the exporter exposes, rendered from the latest sample. Collectors write metrics in
 * synchronous blocks after their I/O, so a render never sees half a sample; the rendered text is
 * cached per sample generation, so any number of concurrent scrapes share one render and never
 * touch /proc.
 */
import { Counter, Gauge, Histogram, Registry, type Metric, type RegistryContentType } from 'prom-client';

export type Format = 'prometheus' | 'openmetrics';

export const NAMESPACE = 'mountstorm';

/** 10 µs … 60 s: a quiet probe sits near the bottom, a stalled kernel near the top. */
export const LATENCY_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
  2.5, 5, 10, 30, 60,
];

function openMetricsRegistry(): Registry<RegistryContentType> {
  const r = new Registry<RegistryContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

/**
 * A histogram filled with bucket counts aggregated elsewhere (the trace reader thread counts
 * durations into the same buckets), so a storm's hundred thousand syscalls a second cost one add per
 * bucket here instead of one observe() each. prom-client renders it like its own histograms.
 */
export class BulkHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<L, string>; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    private readonly labelNames: readonly L[],
  ) {}

  /** Adds `counts` (per bucket, not cumulative, the last slot +Inf), their `sum` and total count. */
  add(labels: Record<L, string>, counts: readonly number[], sum: number): void {
    if (counts.length !== this.buckets.length + 1) throw new Error(`${this.name}: ${counts.length} counts for ${this.buckets.length} buckets`);
    const key = this.labelNames.map((l) => labels[l]).join('\u0000');
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

  /** The prom-client metric interface: values as prom-client's Histogram#get() returns them. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.buckets.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { ...s.labels, le }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
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
  const { name, help, type, aggregator } = m as unknown as { name: string; help: string; type: string; aggregator: string };
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

  histogram<L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return this.register(new Histogram({ name, help, labelNames, buckets, registers: [] }));
  }

  bulkHistogram<L extends string>(name: string, help: string, buckets: readonly number[], labelNames: readonly L[] = []): BulkHistogram<L> {
    const h = new BulkHistogram(name, help, buckets, labelNames);
    this.register(h as unknown as Metric);
    return h;
  }

  /** The current values of one metric (as prom-client's get() returns them), or undefined. */
  async values(name: string): Promise<Array<{ labels: Record<string, string | number>; value: number }> | undefined> {
    const m = this.registries.prometheus.getSingleMetric(name);
    if (!m) return undefined;
    return (await m.get()).values as Array<{ labels: Record<string, string | number>; value: number }>;
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
