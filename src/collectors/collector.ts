import type { Config } from '../config';
import type { Exposition } from '../exposition';
import type { HostPaths } from '../fs/paths';
import type { Logger } from '../log';
import type { ProbeRunner } from '../probes/runner';

export interface CollectorContext {
  config: Readonly<Config>;
  paths: HostPaths;
  log: Logger;
  exposition: Exposition;
  probes: ProbeRunner;
  /** The watched mountinfo, through the procfs seam. */
  mountinfoPath: string;
}

/**
 * One collector: metric descriptors are built in the constructor; `update()` reads its sources
 * (async) and then writes its metrics in one synchronous block, so a render never sees half of it.
 * A source that is missing is "no data" (resolve without metrics), not a failure.
 */
export interface Collector {
  readonly name: string;
  update(): Promise<void>;
  close?(): Promise<void>;
}

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
