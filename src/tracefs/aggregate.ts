/**
 * Turns trace events (trace_pipe lines, or records decoded from trace_pipe_raw pages) into the
 * cumulative totals the tracefs collector exports. Pure: no I/O, so tests feed it captured input.
 * Memory is bounded whatever the event rate: lines are parsed as they come (a partial last line is
 * carried), in-flight syscalls are kept per task up to a cap, and process names beyond the first
 * `topProcesses` are counted as "other".
 */
import * as os from 'node:os';
import { errorMessage, ParseError } from '../errors';
import { LOCK_KINDS, lockKindIndex, parseTraceLine, type TraceEvent } from './trace-pipe';

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
/** Traced syscall name → its index in TRACED_SYSCALLS, the number account() takes. */
const TRACED = new Map(TRACED_SYSCALLS.map((s, i) => [s.name, i]));
/** Names beyond the traced ones: syscalls whose events an instance recorded but the aggregator ignores. */
const SYSCALL_NAMES = TRACED_SYSCALLS.map((s) => s.name);
const SYSCALL_IDS = new Map(TRACED);

/** The number account() takes for a traced syscall's name; -1 for any other. */
export function tracedSyscall(name: string): number {
  return TRACED.get(name) ?? -1;
}

/** A number for any syscall name (traced ones first, as tracedSyscall numbers them), for decoders. */
export function syscallId(name: string): number {
  let id = SYSCALL_IDS.get(name);
  if (id === undefined) {
    id = SYSCALL_NAMES.push(name) - 1;
    SYSCALL_IDS.set(name, id);
  }
  return id;
}

export function syscallName(id: number): string {
  return SYSCALL_NAMES[id] ?? `syscall ${id}`;
}

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
  /** Index in TRACED_SYSCALLS; -1: not in a traced syscall. */
  syscall: number;
  start: number;
  /** When its pending lock wait began; -1: none. */
  lockStart: number;
  /** Index in LOCK_KINDS. */
  lockKind: number;
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
  /** Calls of each traced syscall by CPU; folded into totals.callsByCpu by snapshot(). */
  private readonly calls: number[][] = TRACED_SYSCALLS.map(() => []);
  /** Seconds of lock wait, [syscall × LOCK_KINDS.length + kind]; folded into totals.lockWait. */
  private readonly lockWait = new Float64Array(TRACED_SYSCALLS.length * LOCK_KINDS.length);
  private readonly lockWaited = new Uint8Array(this.lockWait.length);
  private readonly durations: Array<DurationTotals | undefined> = [];
  /** Calls by process: a slot per name (the first `topProcesses` names, then "other"). */
  private readonly slotOfName = new Map<string, number>();
  private readonly slotNames: string[] = [];
  private readonly slotCalls: number[] = [];
  private named = 0;
  /** Tasks whose name came from resolveComm → their slot; cleared by forgetNames(). */
  private readonly slotOfTask = new Map<number, number>();
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

  /** The by-process slot of a task: its name's, or "other"'s once `topProcesses` names are taken. */
  private processSlot(comm: string | undefined, tid: number): number {
    if (comm !== undefined && comm !== '<...>') return this.slotFor(comm);
    let slot = this.slotOfTask.get(tid);
    if (slot === undefined) {
      slot = this.slotFor(this.opts.resolveComm?.(tid) ?? 'unknown');
      if (this.slotOfTask.size >= this.opts.maxInflight) this.slotOfTask.clear();
      this.slotOfTask.set(tid, slot);
    }
    return slot;
  }

  private slotFor(name: string): number {
    let slot = this.slotOfName.get(name);
    if (slot !== undefined) return slot;
    if (this.named < this.opts.topProcesses) this.named++;
    else if (name !== 'other') return this.slotFor('other');
    slot = this.slotNames.push(name) - 1;
    this.slotCalls.push(0);
    this.slotOfName.set(name, slot);
    return slot;
  }

  /** Task names resolveComm gave may have changed: ask it again (the reader calls this as its name cache expires). */
  forgetNames(): void {
    this.slotOfTask.clear();
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
        this.account(ENTER, tracedSyscall(ev.syscall), ev.tid, ev.cpu, ev.ts, 0, ev.comm);
        break;
      case 'exit':
        this.account(EXIT, tracedSyscall(ev.syscall), ev.tid, ev.cpu, ev.ts, ev.ret);
        break;
      case 'lock_begin':
        this.account(LOCK_BEGIN, -1, ev.tid, ev.cpu, ev.ts, ev.flags);
        break;
      case 'lock_end':
        this.account(LOCK_END, -1, ev.tid, ev.cpu, ev.ts, 0);
        break;
      case 'name':
        this.account(NAME, -1, ev.tid, ev.cpu, ev.ts, 0, ev.name);
        break;
      case 'lost':
        this.totals.lostLines += ev.count;
        break;
      case 'other':
        break;
    }
  }

  /**
   * Accounts one event without allocating (the raw reader's path). `syscall`: its number
   * (tracedSyscall(); others are ignored); `value`: an exit's return value or a lock_begin's flags;
   * `text`: for ENTER the kernel's name for the task where it gave one (else resolveComm is asked),
   * for NAME the task's new name.
   */
  account(kind: number, syscall: number, tid: number, cpu: number, ts: number, value: number, text?: string): void {
    const t = this.totals;
    if (kind === ENTER) {
      const traced = TRACED_SYSCALLS[syscall];
      if (traced === undefined) return;
      t.events++;
      this.lastTs = ts;
      const byCpu = this.calls[syscall] as number[];
      byCpu[cpu] = (byCpu[cpu] ?? 0) + 1;
      const slot = this.processSlot(text, tid);
      this.slotCalls[slot] = (this.slotCalls[slot] as number) + 1;
      if (!traced.exit) return;
      const f = this.inflight.get(tid);
      if (f) {
        if (f.syscall < 0) this.active++;
        f.syscall = syscall;
        f.start = ts;
        f.lockStart = -1;
      } else {
        // Full: make room by forgetting the tasks not in a syscall now (rarely needed, O(size)).
        if (this.inflight.size >= this.opts.maxInflight && this.active < this.inflight.size) {
          for (const [id, x] of this.inflight) if (x.syscall < 0) this.inflight.delete(id);
        }
        if (this.inflight.size < this.opts.maxInflight) {
          this.inflight.set(tid, { syscall, start: ts, lockStart: -1, lockKind: 0 });
          this.active++;
        }
      }
      return;
    }
    t.events++;
    if (kind === NAME) {
      if (text === undefined) return;
      this.slotOfTask.delete(tid);
      this.opts.onName?.(tid, text);
      return;
    }
    const f = this.inflight.get(tid);
    if (!f || f.syscall < 0) return;
    if (kind === EXIT) {
      // unshare/setns exits are not filtered; only those whose entry we saw count.
      if (f.syscall !== syscall) return;
      f.syscall = -1;
      this.active--;
      this.observe(syscall, Math.max(0, ts - f.start));
      if (value < 0) this.add(t.errors, `${SYSCALL_NAMES[syscall]}\t${errnoName(-value)}`, 1);
    } else if (kind === LOCK_BEGIN) {
      // A mutex's optimistic spin (SPIN|MUTEX) is followed by the sleeping wait (MUTEX) before
      // one contention_end: the wait runs from the first begin.
      if (f.lockStart < 0) f.lockStart = ts;
      f.lockKind = lockKindIndex(value);
    } else if (kind === LOCK_END) {
      if (f.lockStart < 0) return;
      const i = f.syscall * LOCK_KINDS.length + f.lockKind;
      this.lockWait[i] = (this.lockWait[i] as number) + Math.max(0, ts - f.lockStart);
      this.lockWaited[i] = 1;
      f.lockStart = -1;
    }
  }

  private observe(syscall: number, seconds: number): void {
    let d = this.durations[syscall];
    if (!d) {
      d = { counts: new Array<number>(this.opts.buckets.length + 1).fill(0), sum: 0, count: 0 };
      this.durations[syscall] = d;
      this.totals.durations[SYSCALL_NAMES[syscall] as string] = d;
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
      if (f.syscall >= 0) this.active--;
      this.inflight.delete(tid);
    }
  }

  /** The cumulative totals; the object is the aggregator's own, updated by later events. */
  snapshot(): TraceTotals {
    const t = this.totals;
    this.calls.forEach((byCpu, s) => byCpu.forEach((n, cpu) => (t.callsByCpu[`${SYSCALL_NAMES[s]}\t${cpu}`] = n)));
    this.slotCalls.forEach((n, slot) => (t.byProcess[this.slotNames[slot] as string] = n));
    this.lockWait.forEach((seconds, i) => {
      if (this.lockWaited[i]) t.lockWait[`${SYSCALL_NAMES[Math.floor(i / LOCK_KINDS.length)]}\t${LOCK_KINDS[i % LOCK_KINDS.length]}`] = seconds;
    });
    t.inflight = this.active;
    return t;
  }
}
