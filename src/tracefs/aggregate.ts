/**
 * Turns trace events (trace_pipe lines, or records decoded from trace_pipe_raw pages) into the
 * cumulative totals the tracefs collector exports. Pure: no I/O, so tests feed it captured input.
 * Memory is bounded whatever the event rate: lines are parsed as they come (a partial last line is
 * carried), in-flight syscalls are kept per task up to a cap, and process names beyond the first
 * `topProcesses` are counted as "other".
 */
import * as os from 'node:os';
import { errorMessage, ParseError } from '../errors';
import { lockKind, parseTraceLine, type TraceEvent } from './trace-pipe';

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

/** A task's traced syscall; kept (inactive) after its exit, so a busy task reuses one object. */
interface InFlight {
  syscall: string | undefined;
  start: number;
  lockStart: number | undefined;
  lockKind: string | undefined;
}

/** Event kinds of TraceAggregator.account(), the allocation-free entry point. */
export const ENTER = 0;
export const EXIT = 1;
export const LOCK_BEGIN = 2;
export const LOCK_END = 3;
/** A task's name changed (exec, or PR_SET_NAME): `syscall` holds the new name, `tid` the task. */
export const NAME = 4;

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
  /** Told of a NAME event: from then on, `tid` is called `comm`. */
  onName?: (tid: number, comm: string) => void;
}

export class TraceAggregator {
  private carry = '';
  private lineNo = 0;
  private lastTs = 0;
  private readonly inflight = new Map<number, InFlight>();
  private active = 0;
  private readonly namedProcesses = new Set<string>();
  /** syscall → calls by CPU; folded into totals.callsByCpu by snapshot(). */
  private readonly calls = new Map<string, number[]>();
  private readonly totals: TraceTotals = { events: 0, parseErrors: 0, lostLines: 0, callsByCpu: {}, errors: {}, byProcess: {}, lockWait: {}, durations: {}, inflight: 0 };

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
    this.event(ev);
  }

  /** A record that could not be decoded (raw pages): counted like an unparsable line. */
  malformed(err: unknown): void {
    this.fail(err);
  }

  /** Accounts one event, from a trace_pipe line; events must come in time order. */
  event(ev: TraceEvent): void {
    switch (ev.kind) {
      case 'enter':
        this.account(ENTER, ev.syscall, ev.tid, ev.cpu, ev.ts, 0, ev.comm);
        break;
      case 'exit':
        this.account(EXIT, ev.syscall, ev.tid, ev.cpu, ev.ts, ev.ret);
        break;
      case 'lock_begin':
        this.account(LOCK_BEGIN, '', ev.tid, ev.cpu, ev.ts, ev.flags);
        break;
      case 'lock_end':
        this.account(LOCK_END, '', ev.tid, ev.cpu, ev.ts, 0);
        break;
      case 'name':
        this.account(NAME, ev.name, ev.tid, ev.cpu, ev.ts, 0);
        break;
      case 'lost':
        this.totals.lostLines += ev.count;
        break;
      case 'other':
        break;
    }
  }

  /**
   * Accounts one event without allocating (the raw reader's path): `value` is the return value of an
   * exit and the flags of a lock_begin; `comm` is the kernel's name for the task, where it gave one;
   * for NAME, `syscall` is the task's new name.
   */
  account(kind: number, syscall: string, tid: number, cpu: number, ts: number, value: number, comm = '<...>'): void {
    const t = this.totals;
    if (kind === ENTER) {
      const exits = TRACED.get(syscall);
      if (exits === undefined) return;
      t.events++;
      this.lastTs = ts;
      let byCpu = this.calls.get(syscall);
      if (!byCpu) this.calls.set(syscall, (byCpu = []));
      byCpu[cpu] = (byCpu[cpu] ?? 0) + 1;
      this.add(t.byProcess, this.processName(comm, tid), 1);
      if (!exits) return;
      const f = this.inflight.get(tid);
      if (f) {
        if (f.syscall === undefined) this.active++;
        f.syscall = syscall;
        f.start = ts;
        f.lockStart = undefined;
        f.lockKind = undefined;
      } else {
        // Full: make room by forgetting the tasks not in a syscall now (rarely needed, O(size)).
        if (this.inflight.size >= this.opts.maxInflight && this.active < this.inflight.size) {
          for (const [id, x] of this.inflight) if (x.syscall === undefined) this.inflight.delete(id);
        }
        if (this.inflight.size < this.opts.maxInflight) {
          this.inflight.set(tid, { syscall, start: ts, lockStart: undefined, lockKind: undefined });
          this.active++;
        }
      }
      return;
    }
    t.events++;
    if (kind === NAME) {
      this.opts.onName?.(tid, syscall);
      return;
    }
    const f = this.inflight.get(tid);
    if (!f || f.syscall === undefined) return;
    if (kind === EXIT) {
      // unshare/setns exits are not filtered; only those whose entry we saw count.
      if (f.syscall !== syscall) return;
      f.syscall = undefined;
      this.active--;
      this.observe(syscall, Math.max(0, ts - f.start));
      if (value < 0) this.add(t.errors, `${syscall}\t${errnoName(-value)}`, 1);
    } else if (kind === LOCK_BEGIN) {
      // A mutex's optimistic spin (SPIN|MUTEX) is followed by the sleeping wait (MUTEX) before
      // one contention_end: the wait runs from the first begin.
      f.lockStart ??= ts;
      f.lockKind = lockKind(value);
    } else if (kind === LOCK_END) {
      if (f.lockStart === undefined) return;
      this.add(t.lockWait, `${f.syscall}\t${f.lockKind}`, Math.max(0, ts - f.lockStart));
      f.lockStart = undefined;
      f.lockKind = undefined;
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
    for (const [tid, f] of this.inflight) {
      if (this.lastTs - f.start <= maxAgeSeconds) continue;
      if (f.syscall !== undefined) this.active--;
      this.inflight.delete(tid);
    }
  }

  /** The cumulative totals; the object is the aggregator's own, updated by later events. */
  snapshot(): TraceTotals {
    const t = this.totals;
    for (const [syscall, byCpu] of this.calls) byCpu.forEach((n, cpu) => (t.callsByCpu[`${syscall}\t${cpu}`] = n));
    t.inflight = this.active;
    return t;
  }
}
