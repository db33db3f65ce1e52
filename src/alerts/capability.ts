/**
 * Whether the running configuration can page on a mount storm at all, and if not, why. The storm
 * page (MountStormImminent, spec.ts) needs three things at once: the per-start signature (mount
 * syscalls from the tracefs collector, or every namespace's mount events from fanotify), container
 * starts (a runtime's directory watched, else the kernel's new mount namespaces), and lock wait rising (the namespace_sem probe, or
 * lock wait measured by tracefs). An exporter missing one of them can still warn, but never pages:
 * it says so as a metric, in the log, on the landing page and in `mountstorm doctor`.
 */
import type { Exposition } from '../exposition';
import type { Sample } from '../sample/sample';
import { CAPABILITY_METRICS } from '../metric-names';

export type PageBlocker = 'no_mount_signature' | 'no_container_starts' | 'no_lock_wait';

/** What the running exporter has of each thing the storm page needs. */
export interface PageInputs {
  /**
   * Mount syscalls traced during a storm: the tracefs collector works, and records always or is
   * armed by something that sees a storm in any namespace: every namespace's mount events, or
   * container starts at the page's start rate (src/alerts/arming.ts), which is when the page could
   * fire. Armed on demand by neither, it sees a storm in another namespace only by chance (measured:
   * root without CAP_SYS_ADMIN never armed in 30 s of storm; on Linux 6.12 without mount events,
   * one per-layer drill of two).
   */
  syscalls: boolean;
  /** Mount events of every mount namespace (fanotify, Linux 6.15+, with the namespace walk). */
  nodeMountEvents: boolean;
  /** Container starts are seen: a runtime directory is watched, or the kernel's new mount namespaces are counted. */
  starts: boolean;
  /** The namespace_sem probe works. */
  probes: boolean;
}

export interface PageCapability {
  capable: boolean;
  blockers: Array<{ reason: PageBlocker; why: string }>;
}

export const BLOCKER_TEXT: Record<PageBlocker, string> = {
  no_mount_signature:
    "neither every namespace's mount events (fanotify, Linux 6.15+, with the namespace walk: CAP_SYS_ADMIN, hostPID) nor mount syscalls traced through a storm (the tracefs collector with --collector.tracefs.mode=always, or armed on demand by those mount events or by the container starts it sees) are seen, so the per-start storm signature cannot be formed",
  no_container_starts:
    "no container runtime directory is watched (containerd's task directory, containers/storage) and new mount namespaces cannot be counted (the namespace walk needs CAP_SYS_ADMIN; the /proc scan, every process's ns/mnt), so container starts are not seen",
  no_lock_wait: 'neither the namespace_sem probe nor tracefs measures lock wait',
};

/**
 * Whether the tracefs collector, working, records a storm's mount syscalls: always, or armed on
 * demand by something that sees a storm in any namespace (every namespace's mount events, or the
 * container starts: src/alerts/arming.ts). The exporter's samples and `mountstorm doctor` both ask.
 */
export function tracedThroughStorms(mode: string | undefined, nodeMountEvents: boolean, starts: boolean): boolean {
  return mode === 'always' || nodeMountEvents || starts;
}

export function pageCapability(i: PageInputs): PageCapability {
  const blockers: PageCapability['blockers'] = [];
  const add = (reason: PageBlocker) => blockers.push({ reason, why: BLOCKER_TEXT[reason] });
  if (!i.syscalls && !i.nodeMountEvents) add('no_mount_signature');
  if (!i.starts) add('no_container_starts');
  if (!i.probes && !i.syscalls) add('no_lock_wait');
  return { capable: blockers.length === 0, blockers };
}

/** The inputs as one sample shows them. */
export function pageInputs(s: Sample): PageInputs {
  const ok = (name: string) => s.collectors[name]?.ok === true;
  const nodeMountEvents = ok('namespaces') && s.parts.namespaces?.events?.scope === 'node';
  const tracefs = s.parts.tracefs;
  const starts =
    (ok('containers') && (s.parts.containers?.watched ?? 0) > 0) ||
    (ok('namespaces') && s.parts.namespaces?.created !== undefined);
  return {
    syscalls: ok('tracefs') && tracefs !== undefined && tracedThroughStorms(tracefs.mode, nodeMountEvents, starts),
    nodeMountEvents,
    starts,
    probes: ok('probes') && s.parts.probes?.namespace_sem !== undefined,
  };
}

/**
 * How long an input the page needs may be missing before it counts as lost: one collector's sample
 * failing under a storm's load (seen on a loaded guest: "the storm page cannot fire here", then
 * "can fire" a second later, mid-storm) is not a page that cannot fire. The storm signals' window.
 */
export const INPUT_GRACE_MS = 10_000;

/**
 * The capability as metrics, updated every sample; `onChange` hears each change (the log). An input
 * seen within INPUT_GRACE_MS still counts: what is lost is said once it stays lost.
 */
export class PageCapabilityGauge {
  private readonly capable;
  private readonly blocked;
  private last: string | undefined;
  /** When each input was last there (the sample's time). */
  private readonly seen: Partial<Record<keyof PageInputs, number>> = {};
  current: PageCapability | undefined;

  constructor(
    exposition: Exposition,
    private readonly onChange: (c: PageCapability) => void,
  ) {
    this.capable = exposition.gauge(
      CAPABILITY_METRICS.pageCapable,
      'Whether this exporter, as configured and privileged, can page on a mount storm (MountStormImminent): 1, or 0 with the reasons in mountstorm_storm_page_blocked.',
    );
    this.blocked = exposition.gauge(
      CAPABILITY_METRICS.pageBlocked,
      'Why the storm page cannot fire here: 1 for each missing input (no_mount_signature, no_container_starts, no_lock_wait).',
      ['reason'],
    );
  }

  update(s: Sample): void {
    const now = pageInputs(s);
    const held = { ...now };
    for (const k of Object.keys(now) as Array<keyof PageInputs>) {
      if (now[k]) this.seen[k] = s.at;
      const at = this.seen[k];
      held[k] = at !== undefined && s.at - at <= INPUT_GRACE_MS;
    }
    const c = pageCapability(held);
    this.current = c;
    this.capable.set(c.capable ? 1 : 0);
    this.blocked.reset();
    for (const b of c.blockers) this.blocked.set({ reason: b.reason }, 1);
    const key = c.blockers.map((b) => b.reason).join(',');
    if (key !== this.last) {
      this.last = key;
      this.onChange(c);
    }
  }
}
