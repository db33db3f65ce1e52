/**
 * Turns trace_pipe lines into the cumulative totals the tracefs collector exports. Pure: no I/O, so
 * tests feed it captured lines. Memory is bounded whatever the event rate: lines are parsed as they
 * come (a partial last line is carried), in-flight syscalls are kept per task up to a cap, and
 * process names beyond the first `topProcesses` are counted as "other".
 */
import * as os from 'node:os';
import { errorMessage, ParseError } from '../errors';
import { lockKind, parseTraceLine } from './trace-pipe';

/** Each traced syscall: the event name and the filter on its enter event (unshare/clone/setns only count CLONE_NEWNS). */
export const CLONE_NEWNS = 0x20000;
export const TRACED_SYSCALLS: ReadonlyArray<{ name: string; enterFilter?: string; exit: boolean }> = [
  { name: 'mount', exit: true },
  { name: 'umount', exit: true },
  { name: 'open_tree', exit: true },
  { name: 'move_mount', exit: true },
  { name: 'mount_setattr', exit: true },
  { name: 'fsopen', exit: true },
  { name: 'fsconfig', exit: true },
  { name: 'fsmount', exit: true },
  { name: 'unshare', enterFilter: `unshare_flags & ${CLONE_NEWNS}`, exit: true },
  { name: 'setns', enterFilter: `flags & ${CLONE_NEWNS}`, exit: true },
  // clone's exit fires twice for every fork on the host; counted at entry only. clone3 keeps its
  // flags in a user-space struct the tracepoint does not record, so it cannot be filtered: not traced.
  { name: 'clone', enterFilter: `clone_flags & ${CLONE_NEWNS}`, exit: false },
];
/** Traced syscall → whether its exit is traced (and so its duration and errors known). */
const TRACED = new Map(TRACED_SYSCALLS.map((s) => [s.name, s.exit]));

/** Upper bounds of the duration histogram; counts[i] is the number of durations ≤ bounds[i] (not cumulative), the last slot is +Inf. */
export interface DurationTotals {
  counts: number[];
  sum: number;
  count: number;
}

/** Cumulative totals since the aggregator started. Keys are joined with "\t" (never in a comm or syscall name). */
export interface TraceTotals {
  events: number;
  parseErrors: number;
  lostLines: number;
  callsByCpu: Record<string, number>; // syscall \t cpu
  errors: Record<string, number>; // syscall \t errno name
  byProcess: Record<string, number>; // comm (or "other")
  lockWait: Record<string, number>; // syscall \t kind → seconds
  durations: Record<string, DurationTotals>; // syscall
  inflight: number;
  lastParseError?: string;
}

interface InFlight {
  syscall: string;
  start: number;
  lockStart?: number;
  lockKind?: string;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `E${n}`;
}

export interface AggregatorOptions {
  buckets: readonly number[];
  topProcesses: number;
  maxInflight: number;
  /** Resolves "<...>" (the kernel's comm cache missed) to a name, e.g. from /proc/<tid>/comm. */
  resolveComm?: (tid: number) => string | undefined;
}

export class TraceAggregator {
  private carry = '';
  private lineNo = 0;
  private lastTs = 0;
  private readonly inflight = new Map<number, InFlight>();
  private readonly namedProcesses = new Set<string>();
  readonly totals: TraceTotals = { events: 0, parseErrors: 0, lostLines: 0, callsByCpu: {}, errors: {}, byProcess: {}, lockWait: {}, durations: {}, inflight: 0 };

  constructor(private readonly opts: AggregatorOptions) {}

  /** Feeds a chunk of trace_pipe text; a line cut at the chunk's end waits for the next chunk. */
  feed(chunk: string): void {
    const text = this.carry + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (nl > start) this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.carry = text.slice(start);
    // A "line" this long is not one the kernel wrote; drop it rather than grow without bound.
    if (this.carry.length > 64 * 1024) {
      this.fail(new ParseError('trace_pipe', this.lineNo + 1, 'line longer than 64 KiB'));
      this.carry = '';
    }
  }

  private fail(err: unknown): void {
    this.totals.parseErrors++;
    this.totals.lastParseError = errorMessage(err);
  }

  private add(map: Record<string, number>, key: string, by: number): void {
    map[key] = (map[key] ?? 0) + by;
  }

  private processName(comm: string, tid: number): string {
    let name = comm;
    if (name === '<...>') name = this.opts.resolveComm?.(tid) ?? 'unknown';
    if (this.namedProcesses.has(name)) return name;
    if (this.namedProcesses.size < this.opts.topProcesses) {
      this.namedProcesses.add(name);
      return name;
    }
    return 'other';
  }

  private line(line: string): void {
    this.lineNo++;
    let ev;
    try {
      ev = parseTraceLine(line, 'trace_pipe', this.lineNo);
    } catch (err) {
      this.fail(err);
      return;
    }
    const t = this.totals;
    switch (ev.kind) {
      case 'enter': {
        const exits = TRACED.get(ev.syscall);
        if (exits === undefined) return;
        t.events++;
        this.lastTs = ev.ts;
        this.add(t.callsByCpu, `${ev.syscall}\t${ev.cpu}`, 1);
        this.add(t.byProcess, this.processName(ev.comm, ev.tid), 1);
        if (exits && (this.inflight.size < this.opts.maxInflight || this.inflight.has(ev.tid))) {
          this.inflight.set(ev.tid, { syscall: ev.syscall, start: ev.ts });
        }
        break;
      }
      case 'exit': {
        t.events++;
        const f = this.inflight.get(ev.tid);
        // unshare/setns exits are not filtered; only those whose entry we saw count.
        if (!f || f.syscall !== ev.syscall) return;
        this.inflight.delete(ev.tid);
        this.observe(ev.syscall, Math.max(0, ev.ts - f.start));
        if (ev.ret < 0) this.add(t.errors, `${ev.syscall}\t${errnoName(-ev.ret)}`, 1);
        break;
      }
      case 'lock_begin': {
        t.events++;
        const f = this.inflight.get(ev.tid);
        if (!f) return;
        // A mutex's optimistic spin (SPIN|MUTEX) is followed by the sleeping wait (MUTEX) before
        // one contention_end: the wait runs from the first begin.
        f.lockStart ??= ev.ts;
        f.lockKind = lockKind(ev.flags);
        break;
      }
      case 'lock_end': {
        t.events++;
        const f = this.inflight.get(ev.tid);
        if (!f || f.lockStart === undefined) return;
        this.add(t.lockWait, `${f.syscall}\t${f.lockKind}`, Math.max(0, ev.ts - f.lockStart));
        f.lockStart = undefined;
        f.lockKind = undefined;
        break;
      }
      case 'lost':
        t.lostLines += ev.count;
        break;
      case 'other':
        break;
    }
  }

  private observe(syscall: string, seconds: number): void {
    let d = this.totals.durations[syscall];
    if (!d) {
      d = { counts: new Array<number>(this.opts.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.totals.durations[syscall] = d;
    }
    let i = 0;
    while (i < this.opts.buckets.length && seconds > (this.opts.buckets[i] as number)) i++;
    d.counts[i] = (d.counts[i] as number) + 1;
    d.sum += seconds;
    d.count++;
  }

  /**
   * Forgets syscalls in flight for longer than `maxAgeSeconds` of trace time (their task died, or
   * the exit event was lost to an overrun), so the in-flight map never fills with ghosts.
   */
  expire(maxAgeSeconds: number): void {
    for (const [tid, f] of this.inflight) if (this.lastTs - f.start > maxAgeSeconds) this.inflight.delete(tid);
  }

  snapshot(): TraceTotals {
    this.totals.inflight = this.inflight.size;
    return this.totals;
  }
}
