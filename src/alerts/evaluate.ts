/**
 * The exporter's own evaluator: the spec's node alerts over the node's samples, at every sample,
 * with the rules' meaning (a condition held for `for` fires, as Prometheus's alerting rules do:
 * pending at the first evaluation it holds, firing at the first one `for` or more after that,
 * inactive again at the first one it does not). Its states go to the landing page and, with
 * --alertmanager.url, to the notifier. It only reads a History; it never waits on anything.
 */
import type { Counter, Gauge } from 'prom-client';
import type { Exposition } from '../exposition';
import { parseDuration } from '../flags';
import type { History } from '../sample/history';
import { runbookUrl, type AlertsConfig } from './config';
import { formatValue } from './format';
import {
  ALERTS,
  STORM_CAUSE,
  thresholdValue,
  type AlertSpec,
  type Condition,
  type DescriptionPart,
  type Severity,
} from './spec';
import { EVALUATOR_METRICS } from '../metric-names';
import { signal, TOP_IMAGE } from './signals';

export type AlertPhase = 'inactive' | 'pending' | 'firing';

export interface AlertState {
  name: string;
  severity: Severity;
  phase: AlertPhase;
  /** Unix ms: when the condition began to hold (pending), when it fired, when it last stopped firing. */
  activeAt?: number;
  firedAt?: number;
  resolvedAt?: number;
  /** While firing on after its condition stopped holding (keep_firing_for): since when. */
  keepFiringSince?: number;
  summary: string;
  description: string;
  runbookUrl: string;
}

/** A description with the node's values, as the rule's template writes it. */
export function nodeDescription(
  parts: readonly DescriptionPart[],
  h: History,
  cfg: AlertsConfig,
  instance: string,
): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return p.split('{instance}').join(instance);
      if ('topImage' in p) return TOP_IMAGE.node(h, cfg) ?? 'n/a';
      if ('cases' in p)
        return nodeDescription(p.cases.find((c) => holds(c.when, h, cfg))?.text ?? p.otherwise, h, cfg, instance);
      const s = signal(p.signal);
      return formatValue(s.node(h, cfg), s.format);
    })
    .join('');
}

/** A condition in words, with the node's values against the thresholds: "syscallsPerStart 406 > 150 or …". */
export function explain(c: Condition, h: History, cfg: AlertsConfig, nested = false): string {
  if ('not' in c) return `not ${explain(c.not, h, cfg, true)}`;
  if ('all' in c || 'any' in c) {
    const parts = 'all' in c ? c.all : c.any;
    const text = parts.map((p) => explain(p, h, cfg, true)).join('all' in c ? ' and ' : ' or ');
    return nested ? `(${text})` : text;
  }
  const s = signal(c.signal);
  const v = formatValue(s.node(h, cfg), s.format);
  return 'present' in c
    ? `${s.id} ${v === 'n/a' ? 'absent' : 'present'}`
    : `${s.id} ${v} > ${formatValue(thresholdValue(cfg, c.above), s.format === 'integer' ? 'humanize' : s.format)}`;
}

export class Evaluator {
  private readonly states = new Map<string, AlertState>();
  private readonly metric: Gauge<'alertname' | 'severity' | 'state'> | undefined;
  private readonly causeMetric: Gauge<'cause'> | undefined;
  private readonly tracedStarts: Counter | undefined;
  private cause: string | undefined;
  /** The time of the latest point whose traced starts were counted. */
  private countedAt: number | undefined;
  /** How much sooner than `for` consecutive samples may say a condition has held for `for`. */
  private readonly slackMs: number;

  /** The spec's node alerts. */
  readonly alerts: readonly AlertSpec[] = ALERTS.filter((a) => a.node);

  /**
   * `sampleIntervalMs`: the node's samples come about that far apart, each stamped when it completes,
   * so consecutive samples may be a little less than an interval apart. A condition held across
   * samples that span `for` to within half an interval has held for `for`: a storm page with `for`
   * 1 s fires at the second sample that holds it, not at the third when the two came 0.98 s apart.
   */
  constructor(
    private readonly cfg: AlertsConfig,
    private readonly instance: string,
    exposition?: Exposition,
    sampleIntervalMs = 0,
  ) {
    this.slackMs = sampleIntervalMs / 2;
    for (const a of this.alerts) {
      if (!a.condition) throw new Error(`alert spec: node alert ${a.name} has no condition`);
      this.states.set(a.name, {
        name: a.name,
        severity: a.severity,
        phase: 'inactive',
        summary: a.summary,
        description: '',
        runbookUrl: runbookUrl(cfg, a.name),
      });
    }
    this.metric = exposition?.gauge(
      EVALUATOR_METRICS.nodeAlerts,
      "The exporter's own evaluation of its node alerts: 1 for the state each is in (inactive, pending, firing).",
      ['alertname', 'severity', 'state'],
    );
    this.causeMetric = exposition?.gauge(
      EVALUATOR_METRICS.stormCause,
      `What makes the mount work of the container starts in the fast window, or the readers that hold the table longer than it, as the storm page names it: 1 for ${STORM_CAUSE.cases.map((c) => c.id).join(', ')} or ${STORM_CAUSE.otherwiseId}; all 0 without starts.`,
      ['cause'],
    );
    // The rules' form of the per-start tracefs figures divides by this, as the node's does by its points.
    this.tracedStarts = exposition?.counter(
      EVALUATOR_METRICS.startsTraced,
      "Container starts (the start signal the page reads: the runtimes' records where a runtime directory is watched, else new mount namespaces) in the time tracing was armed: each sample's starts times the share of it that was traced. The per-start tracefs figures divide by it, so that a storm's first seconds, before on-demand tracing armed, do not dilute them.",
    );
    this.export();
  }

  /** The cause the storm page would name for the starts of the fast window; undefined without starts. */
  stormCause(): string | undefined {
    return this.cause;
  }

  /** Evaluates every node alert as of the history's latest point; returns their states. */
  evaluate(h: History): AlertState[] {
    const now = h.last?.t;
    if (now === undefined) return this.current();
    if (this.countedAt !== now) this.tracedStarts?.inc(h.last?.tracedStarts ?? 0);
    this.countedAt = now;
    this.cause = signal('startRate').node(h, this.cfg) ? stormCause(h, this.cfg) : undefined;
    for (const a of this.alerts) {
      const s = this.states.get(a.name) as AlertState;
      const held = holds(a.condition!, h, this.cfg);
      if (held) {
        s.keepFiringSince = undefined;
        s.description = nodeDescription(a.description, h, this.cfg, this.instance);
        if (s.phase === 'inactive') {
          s.phase = 'pending';
          s.activeAt = now;
        }
        if (
          s.phase === 'pending' &&
          now - (s.activeAt as number) + this.slackMs >= (parseDuration(this.cfg.thresholds[a.for]) as number)
        ) {
          s.phase = 'firing';
          s.firedAt = now;
        }
      } else if (s.phase !== 'inactive') {
        // Firing, it stays so for keep_firing_for after the condition last held, as Prometheus keeps it.
        if (s.phase === 'firing' && a.keepFiringFor) {
          s.keepFiringSince ??= now;
          if (now - s.keepFiringSince < (parseDuration(this.cfg.thresholds[a.keepFiringFor]) as number)) continue;
        }
        if (s.phase === 'firing') s.resolvedAt = now;
        s.phase = 'inactive';
        s.activeAt = undefined;
        s.keepFiringSince = undefined;
      }
    }
    this.export();
    return this.current();
  }

  current(): AlertState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  private export(): void {
    if (this.causeMetric)
      for (const id of [...STORM_CAUSE.cases.map((c) => c.id), STORM_CAUSE.otherwiseId])
        this.causeMetric.set({ cause: id }, id === this.cause ? 1 : 0);
    if (!this.metric) return;
    for (const s of this.states.values()) {
      for (const phase of ['inactive', 'pending', 'firing'] as const)
        this.metric.set({ alertname: s.name, severity: s.severity, state: phase }, s.phase === phase ? 1 : 0);
    }
  }
}

/** The cause the storm page names for what the history holds (its first case that holds). */
export function stormCause(h: History, cfg: AlertsConfig): string {
  return STORM_CAUSE.cases.find((c) => holds(c.when, h, cfg))?.id ?? STORM_CAUSE.otherwiseId;
}

/** The node's evaluation of a condition (a missing value is false, as a missing series is in PromQL). */
export function holds(c: Condition, h: History, cfg: AlertsConfig): boolean {
  if ('not' in c) return !holds(c.not, h, cfg);
  if ('all' in c) return c.all.every((x) => holds(x, h, cfg));
  if ('any' in c) return c.any.some((x) => holds(x, h, cfg));
  const v = signal(c.signal).node(h, cfg);
  if (v === undefined || Number.isNaN(v)) return false;
  return 'present' in c ? true : v > thresholdValue(cfg, c.above);
}
