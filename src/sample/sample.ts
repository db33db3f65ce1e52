/**
 * One sample of the node: every collector's part (a typed snapshot of the state now and of what
 * changed since the previous sample), and how each collector fared. The sampler builds it; the
 * collectors turn it into metrics; the landing page's history and the alert evaluator read it.
 */
import type { ContainersSnapshot } from '../collectors/containers';
import type { CpuSnapshot } from '../collectors/cpu';
import type { HostSnapshot } from '../collectors/host';
import type { MountsSnapshot } from '../collectors/mounts';
import type { NamespacesSnapshot } from '../collectors/namespaces';
import type { TracefsSnapshot } from '../collectors/tracefs';
import type { ProbesSnapshot } from '../sources/probes/source';

export interface SampleParts {
  mounts: MountsSnapshot;
  probes: ProbesSnapshot;
  namespaces: NamespacesSnapshot;
  cpu: CpuSnapshot;
  host: HostSnapshot;
  tracefs: TracefsSnapshot;
  containers: ContainersSnapshot;
}

export interface Sample {
  /** Unix time in milliseconds at which the sample completed. */
  at: number;
  /** Seconds since the previous sample completed (its own interval for the first). */
  seconds: number;
  /** The part of every collector that had data this sample. */
  parts: Partial<SampleParts>;
  /** Every enabled collector: whether it succeeded, and how long it took. */
  collectors: Record<string, { ok: boolean; seconds: number }>;
}
