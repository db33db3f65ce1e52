/** Merges the per-CPU streams of raw trace events into one, in time order. */
import { RawBatch } from './batch';

/**
 * Puts events read from per-CPU buffers in time order. Each CPU's events are in order already; the
 * buffers are read one after another, so an event another CPU had not yet committed when its buffer
 * was read can still be older than one read later. Events newer than `holdSeconds` before the read
 * began are held for the next release, by which time every CPU's older events are in.
 */
export class TimeMerge {
  /** decodePage appends here; call startRun() before each CPU's pages. */
  pending = new RawBatch();
  private spare = new RawBatch();
  /** Where each run of events in time order starts in `pending`. */
  private runs: number[] = [0];
  private holdBack: boolean;

  /** `monotonic`: event times are CLOCK_MONOTONIC seconds, comparable with the `now` given to release. */
  constructor(
    monotonic: boolean,
    private readonly holdSeconds = 0.01,
  ) {
    this.holdBack = monotonic;
  }

  /** The events appended from here on are another CPU's. */
  startRun(): void {
    this.runs.push(this.pending.n);
  }

  /**
   * Hands over, oldest first, the events older than `now - holdSeconds` (`now`: when this read
   * began). A k-way merge of the runs: no comparator calls, nothing allocated per event.
   */
  release(now: number, emit: (batch: RawBatch, i: number) => void): void {
    const b = this.pending;
    const ts = b.ts;
    const heads: number[] = [];
    const ends: number[] = [];
    let latest = -Infinity;
    for (let r = 0; r < this.runs.length; r++) {
      const start = this.runs[r] as number;
      const end = r + 1 < this.runs.length ? (this.runs[r + 1] as number) : b.n;
      if (start >= end) continue;
      heads.push(start);
      ends.push(end);
      if ((ts[end - 1] as number) > latest) latest = ts[end - 1] as number;
    }
    // An event stamped well after the read began means the clocks differ: stop holding back.
    if (this.holdBack && latest > now + 1) this.holdBack = false;
    const cutoff = this.holdBack ? now - this.holdSeconds : Infinity;
    // Merged in time order, so once one event is past the cutoff all the rest are: they are kept,
    // still merged, as the next release's first run.
    const held = this.spare;
    held.n = 0;
    for (;;) {
      // The run with the oldest head (the first such run on a tie, as the kernel's own merge), and
      // the oldest head of the others: the first run's events up to that one go out in one stretch.
      let best = -1;
      let bestTs = Infinity;
      let next = -1;
      let nextTs = Infinity;
      for (let r = 0; r < heads.length; r++) {
        const h = heads[r] as number;
        if (h >= (ends[r] as number)) continue;
        const t = ts[h] as number;
        if (best < 0 || t < bestTs) {
          next = best;
          nextTs = bestTs;
          best = r;
          bestTs = t;
        } else if (next < 0 || t < nextTs) {
          next = r;
          nextTs = t;
        }
      }
      if (best < 0) break;
      const end = ends[best] as number;
      const tieFirst = next < 0 || best < next;
      let h = heads[best] as number;
      do {
        if ((ts[h] as number) < cutoff) emit(b, h);
        else held.copy(b, h);
        h++;
      } while (h < end && ((ts[h] as number) < nextTs || (tieFirst && ts[h] === nextTs)));
      heads[best] = h;
    }
    this.spare = b;
    this.pending = held;
    this.runs = [0];
  }
}
