/**
 * When on-demand tracing arms: the cheap signals that a storm may be starting. Mount events faster
 * than --collector.namespaces.storm-rate (the namespaces collector tells at once), the watched
 * table's size moving by ARM_TABLE_DELTA within a sample, or the namespace_sem probe above the
 * leading alert's lock-wait threshold. This module decides; the tracefs collector arms (its hint())
 * and disarms after --collector.tracefs.calm without a signal.
 */
import type { Sample } from '../sample/sample';
import { THRESHOLDS } from './thresholds';

/** Entries the watched table gains or loses within a sample (its 10 ms peak included) that arm tracing. */
export const ARM_TABLE_DELTA = 50;

export class TracingArmingPolicy {
  private lastEntries: number | undefined;

  /** `arm(reason)` is called for every signal; arming again while armed only extends the calm wait. */
  constructor(private readonly arm: (reason: string) => void) {}

  /** Mount events (fanotify) faster than the storm rate. */
  mountEvents(perSecond: number): void {
    this.arm(`mount events at ${Math.round(perSecond)}/s`);
  }

  /** The cheap signals of a whole sample: the watched table's size swinging, the namespace_sem probe. */
  observe(s: Sample): void {
    const m = s.parts.mounts;
    if (m) {
      const moved = Math.max(
        (m.entriesPeak ?? m.entries) - Math.min(m.entries, this.lastEntries ?? m.entries),
        Math.abs(m.entries - (this.lastEntries ?? m.entries)),
      );
      this.lastEntries = m.entries;
      if (moved >= ARM_TABLE_DELTA) this.arm(`the watched mount table moved by ${moved} entries within a sample`);
    }
    const probe = s.parts.probes?.namespace_sem;
    if (probe?.learned && probe.estimate !== undefined && probe.estimate > THRESHOLDS.leadingLockWaitSeconds)
      this.arm(`the namespace_sem probe is ${(probe.estimate * 1e3).toFixed(1)} ms above its baseline`);
  }
}
