/**
 * The metrics the exporter exposes, rendered from the latest sample. Collectors write metrics in
 * synchronous blocks after their I/O, so a render never sees half a sample; the rendered text is
 * cached per sample generation, so any number of concurrent scrapes share one render and never
 * touch /proc.
 */
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';

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

interface Rendered {
  generation: number;
  body: Promise<string>;
}

export class Exposition {
  private readonly registries: Record<Format, Registry<RegistryContentType>> = {
    prometheus: new Registry(),
    openmetrics: openMetricsRegistry(),
  };
  private generation = 0;
  private readonly cache = new Map<Format, Rendered>();

  /** Both registries: every metric is registered in each, so either format shows the same state. */
  get registers(): Registry[] {
    return Object.values(this.registries) as Registry[];
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: this.registers });
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: this.registers });
  }

  histogram<L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, labelNames, buckets, registers: this.registers });
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
