/**
 * A probe's quiet baseline and how far the latest observations sit above it.
 *
 * baseline = 10th percentile of the observations in the learning window (default 30 min): a storm has
 *            to fill 90 % of the window before it is mistaken for "normal".
 * current  = median of the last 5 observations: one slow read from a preempted probe does not count.
 * estimate = max(0, current − baseline), in seconds.
 */
export class BaselineEstimator {
  private readonly window: Float64Array;
  private count = 0;
  private next = 0;
  private readonly recent: number[] = [];

  constructor(
    windowSize: number,
    private readonly recentSize = 5,
    private readonly quantile = 0.1,
  ) {
    this.window = new Float64Array(Math.max(1, windowSize));
  }

  observe(seconds: number): void {
    this.window[this.next] = seconds;
    this.next = (this.next + 1) % this.window.length;
    if (this.count < this.window.length) this.count++;
    this.recent.push(seconds);
    if (this.recent.length > this.recentSize) this.recent.shift();
  }

  get observations(): number {
    return this.count;
  }

  baseline(): number | undefined {
    if (this.count === 0) return undefined;
    const sorted = Float64Array.from(this.window.subarray(0, this.count)).sort();
    return sorted[Math.min(this.count - 1, Math.floor(this.quantile * this.count))];
  }

  current(): number | undefined {
    if (this.recent.length === 0) return undefined;
    const s = [...this.recent].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  }

  estimate(): number | undefined {
    const b = this.baseline();
    const c = this.current();
    if (b === undefined || c === undefined) return undefined;
    return Math.max(0, c - b);
  }
}
