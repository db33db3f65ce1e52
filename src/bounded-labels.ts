/**
 * A bounded set of label values for a counter keyed by something unbounded (an image name, a pod):
 * at most `slots` values have a series of their own, every other value counts under `other`. A
 * value keeps its slot while it is active; a slot idle for `idleMs` is given up (its series ends,
 * as a removed target's do) and the next new value takes it. A count never moves between series:
 * what `other` counted stays in `other`, and a value that gets a slot counts there from then on.
 * Worst case: slots + 1 series.
 */
export const OTHER = 'other';

export class BoundedLabels {
  /** value → when it last counted (ms). */
  private readonly active = new Map<string, number>();

  constructor(
    readonly slots: number,
    private readonly idleMs: number,
    /** Called with a value whose slot is given up: remove its series. */
    private readonly onEvict: (value: string) => void,
  ) {
    if (!Number.isInteger(slots) || slots < 0) throw new Error(`slots must be a whole number ≥ 0, got ${slots}`);
  }

  /** The label a count of `value` at `now` goes under: its own, or `other`. */
  label(value: string, now: number): string {
    if (value === OTHER) return OTHER;
    if (this.active.has(value)) {
      this.active.set(value, now);
      return value;
    }
    if (this.active.size >= this.slots) this.evictIdle(now);
    if (this.active.size >= this.slots) return OTHER;
    this.active.set(value, now);
    return value;
  }

  /** The values with a slot now. */
  values(): string[] {
    return [...this.active.keys()];
  }

  private evictIdle(now: number): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [v, t] of this.active) {
      if (now - t >= this.idleMs && t < at) {
        oldest = v;
        at = t;
      }
    }
    if (oldest === undefined) return;
    this.active.delete(oldest);
    this.onEvict(oldest);
  }
}
