/**
 * A counter fed from a kernel total that must never go back: the first reading is taken whole, later
 * ones add the increase; a reading below the last (a reset, a CPU offlined and back) adds nothing.
 */
export class MonotonicDelta {
  private last = new Map<string, number>();

  delta(key: string, value: number): number {
    const prev = this.last.get(key);
    this.last.set(key, value);
    if (prev === undefined) return value;
    return value > prev ? value - prev : 0;
  }
}
