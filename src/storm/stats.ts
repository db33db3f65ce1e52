/** Latency samples with a bounded reservoir (Algorithm R), and the percentiles the report shows. */
export class Reservoir {
  readonly values: number[] = [];
  seen = 0;
  constructor(private readonly capacity = 100_000) {}

  add(v: number): void {
    this.seen++;
    if (this.values.length < this.capacity) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.capacity) this.values[j] = v;
    }
  }
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function percentiles(values: number[], count = values.length): Percentiles {
  if (values.length === 0) return { count, p50: 0, p99: 0, max: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  return { count, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] as number };
}
