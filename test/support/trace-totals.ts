/**
 * Trace deltas as keyed totals, for assertions: `keyed(mergeDeltas(...))` reads like the counters
 * the collector exports (calls by "syscall\tcpu", errors by "syscall\terrno", and so on).
 */
import { mergeDeltas, type TraceAggregator, type TraceDelta } from '../../src/sources/tracefs/aggregator';

export interface KeyedTotals {
  events: number;
  parseErrors: number;
  lastParseError?: string;
  lost: number;
  callsByCpu: Record<string, number>;
  mountsMade: number;
  errors: Record<string, number>;
  byProcess: Record<string, number>;
  byActor: Record<string, number>;
  lockWait: Record<string, number>;
  durations: Record<string, { counts: number[]; sum: number; count: number }>;
  inflight: number;
}

export function keyed(d: TraceDelta): KeyedTotals {
  const t: KeyedTotals = {
    events: d.events,
    parseErrors: d.parseErrors,
    lost: d.lost,
    callsByCpu: {},
    mountsMade: d.mountsMade,
    errors: {},
    byProcess: {},
    byActor: {},
    lockWait: {},
    durations: {},
    inflight: d.inflight,
  };
  if (d.lastParseError !== undefined) t.lastParseError = d.lastParseError;
  for (const c of d.calls) t.callsByCpu[`${c.syscall}\t${c.cpu}`] = c.count;
  for (const e of d.errors) t.errors[`${e.syscall}\t${e.errno}`] = e.count;
  for (const p of d.byProcess) t.byProcess[p.comm] = p.count;
  for (const a of d.byActor) t.byActor[a.actor] = a.count;
  for (const w of d.lockWait) t.lockWait[`${w.syscall}\t${w.kind}`] = w.seconds;
  for (const x of d.durations)
    t.durations[x.syscall] = { counts: x.counts, sum: x.sum, count: x.counts.reduce((a, b) => a + b, 0) };
  return t;
}

/** Everything an aggregator took so far, for tests that take more than once. */
export class Totals {
  private sum: TraceDelta | undefined;

  constructor(private readonly agg: TraceAggregator) {}

  /** Takes what the aggregator has, and answers everything taken so far. */
  take(): KeyedTotals {
    this.add(this.agg.take());
    return this.current();
  }

  add(d: TraceDelta): void {
    this.sum = this.sum ? mergeDeltas(this.sum, d) : d;
  }

  current(): KeyedTotals {
    return keyed(this.sum ?? this.agg.take());
  }
}

export function sumWhere(m: Record<string, number>, prefix: string): number {
  return Object.entries(m)
    .filter(([k]) => k.startsWith(prefix))
    .reduce((s, [, v]) => s + v, 0);
}
