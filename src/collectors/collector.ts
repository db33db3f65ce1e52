/**
 * What a collector is: a name, its flags, and two steps per sample. `collect()` reads its sources
 * (src/sources/…, or a pure parser over a file read through the path seam) and returns its part of
 * the sample: a typed snapshot of the state now and of what changed since the last sample.
 * `apply()` maps that part to metrics in one synchronous block, so a render never sees half a
 * sample. The landing page and the alert evaluator read the same parts, never the metrics.
 */
import type { Exposition } from '../exposition';
import type { FlagSpec, FlagValue } from '../flags';
import type { HostPaths } from '../fs/paths';
import type { Logger } from '../log';
import type { KernelEventsThread } from '../sources/kernel-events/source';
import type { MountLocksThread } from '../sources/mount-locks/source';

/** What every collector is given besides its own options: the path seam and the sampling it runs under. */
export interface CollectorContext {
  paths: HostPaths;
  /** The process whose mount namespace is watched (--mount.pid: a PID, or "self"). */
  mountPid: string;
  /** How often the sampler samples (--sample.interval). */
  sampleIntervalMs: number;
  log: Logger;
  exposition: Exposition;
  /** The watched mountinfo, through the procfs seam. */
  mountinfoPath: string;
  /**
   * The worker threads sources share, each a V8 isolate of its own (#32): one for the work that
   * waits on the mount locks (src/sources/mount-locks/), one for the kernel's reports that must
   * never wait behind them (src/sources/kernel-events/). Whoever made the context closes them,
   * after the collectors.
   */
  threads: { mountLocks: MountLocksThread; kernelEvents: KernelEventsThread };
}

export interface Collector<Part = unknown> {
  readonly name: string;
  /** Its part of this sample; undefined where a source is missing ("no data", not a failure). */
  collect(): Promise<Part | undefined>;
  /** Writes `part` to the metrics, synchronously. */
  apply(part: Part): void;
  close?(): Promise<void>;
}

/**
 * A collector as the command line knows it. Its flags are `--collector.<name>` (on/off) and
 * `--collector.<name>.<option>` for each of `flags` (named here without the prefix); `options`
 * turns their values into the options object `create` takes.
 */
export interface CollectorDefinition {
  name: string;
  defaultEnabled: boolean;
  /** One line for --help. */
  help: string;
  flags: readonly FlagSpec[];
  options(value: (option: string) => FlagValue | undefined): object;
  create(ctx: CollectorContext, options: object): Collector;
}

/** A definition whose create() takes exactly the options its options() builds. */
export function defineCollector<Options extends object>(d: {
  name: string;
  defaultEnabled: boolean;
  help: string;
  flags: readonly FlagSpec[];
  options(value: (option: string) => FlagValue | undefined): Options;
  create(ctx: CollectorContext, options: Options): Collector;
}): CollectorDefinition {
  // The config hands create() the object options() built for this definition, never another's.
  return d;
}
