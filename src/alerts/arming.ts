/**
 * When on-demand tracing arms: the cheap signals that a storm may be starting. Container starts as
 * fast as the storm page's own start-rate clause (stormStartsPerSecond over its window: the page
 * cannot fire below it, and above it the page needs the per-start mount syscalls that only tracing
 * counts where the kernel has no mount events), mount events faster than
 * --collector.namespaces.storm-rate (the namespaces collector tells at once), the watched table's
 * size moving by ARM_TABLE_DELTA within a sample, or the namespace_sem probe above the leading
 * alert's lock-wait threshold. The start rate is the one signal that sees a storm in any mount
 * namespace on every kernel: mount events need Linux 6.15, the table and the probe see only the
 * watched namespace's table and its lock's readers. This module decides; the tracefs collector arms
 * (its hint()) and disarms after --collector.tracefs.calm without a signal.
 */
import type { History } from '../sample/history';
import type { Sample } from '../sample/sample';
import type { AlertsConfig } from './config';
import { signal } from './signals';
import { THRESHOLDS } from './thresholds';

/** Entries the watched table gains or loses within a sample (its 10 ms peak included) that arm tracing. */
export const ARM_TABLE_DELTA = 50;

const START_RATE = signal('startRate');

export class TracingArmingPolicy {
  private lastEntries: number | undefined;

  /**
   * `arm(reason)` is called for every signal; arming again while armed only extends the calm wait.
   * `history` and `alerts` give the page's start rate, as the node's evaluator reads it.
   */
  constructor(
    private readonly arm: (reason: string) => void,
    private readonly history?: History,
    private readonly alerts?: AlertsConfig,
  ) {}

  /** Mount events (fanotify) faster than the storm rate. */
  mountEvents(perSecond: number): void {
    this.arm(`mount events at ${Math.round(perSecond)}/s`);
  }

  /**
   * The cheap signals of a whole sample (once the history holds it): the start rate, the watched
   * table's size swinging, the namespace_sem probe.
   */
  observe(s: Sample): void {
    if (this.history && this.alerts) {
      const rate = START_RATE.node(this.history, this.alerts);
      const storm = this.alerts.thresholds.stormStartsPerSecond;
      if (rate !== undefined && rate >= storm)
        this.arm(`container starts at ${rate.toFixed(1)}/s, the storm page's start rate (${storm}/s)`);
    }
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
