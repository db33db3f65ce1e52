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

/**
 * What the aggregator keeps per task: its traced syscall in flight and its by-process slot. Columns
 * of typed arrays, addressed by an open-addressing hash of the tid (linear probing, at most half
 * full), so an event costs a multiply and a probe or two, where a Map lookup cost several times that
 * and allocated per task. An entry stays after its syscall ends, so a busy task reuses it; entries
 * go only through retain(), which rebuilds the table.
 */
class TaskTable {
  size = 0;
  private bits = 0;
  private used = new Uint8Array(0);
  private tids = new Int32Array(0);
  /** Index in TRACED_SYSCALLS of the syscall in flight; -1: none. */
  syscall = new Int8Array(0);
  /** When its syscall in flight (or its last one) began. */
  start = new Float64Array(0);
  /** When its pending lock wait began; -1: none. */
  lockStart = new Float64Array(0);
  /** Index in LOCK_KINDS. */
  lockKind = new Uint8Array(0);
  /** Its by-process slot, where its name came from resolveComm; -1: not asked yet. */
  slot = new Int32Array(0);

  constructor() {
    this.rebuild(6, () => true);
  }

  private home(tid: number): number {
    return Math.imul(tid, 0x9e3779b1) >>> (32 - this.bits);
  }

  /** The entry of `tid`; -1: none. */
  find(tid: number): number {
    const mask = (1 << this.bits) - 1;
    for (let i = this.home(tid); ; i = (i + 1) & mask) {
      if (this.used[i] === 0) return -1;
      if (this.tids[i] === tid) return i;
    }
  }

  /** A new entry for `tid` (which has none): no syscall, no slot. */
  insert(tid: number): number {
    if ((this.size + 1) * 2 > 1 << this.bits) this.rebuild(this.bits + 1, () => true);
    const mask = (1 << this.bits) - 1;
    let i = this.home(tid);
    while (this.used[i] !== 0) i = (i + 1) & mask;
    this.used[i] = 1;
    this.tids[i] = tid;
    this.syscall[i] = -1;
    this.start[i] = 0;
    this.lockStart[i] = -1;
    this.lockKind[i] = 0;
    this.slot[i] = -1;
    this.size++;
    return i;
  }

  /** Keeps only the entries `keep` accepts. */
  retain(keep: (entry: number) => boolean): void {
    this.rebuild(this.bits, keep);
  }

  forgetSlots(): void {
    this.slot.fill(-1);
  }

  /** `keep` is asked about every entry before any moves: it reads the columns as they were. */
  private rebuild(bits: number, keep: (entry: number) => boolean): void {
    const kept: number[] = [];
    for (let j = 0; j < this.used.length; j++) if (this.used[j] !== 0 && keep(j)) kept.push(j);
    const old = { tids: this.tids, syscall: this.syscall, start: this.start, lockStart: this.lockStart, lockKind: this.lockKind, slot: this.slot };
    const n = 1 << bits;
    this.bits = bits;
    this.used = new Uint8Array(n);
    this.tids = new Int32Array(n);
    this.syscall = new Int8Array(n).fill(-1);
    this.start = new Float64Array(n);
    this.lockStart = new Float64Array(n);
    this.lockKind = new Uint8Array(n);
    this.slot = new Int32Array(n);
    this.size = 0;
    for (const j of kept) {
      const i = this.insert(old.tids[j] as number);
      this.syscall[i] = old.syscall[j] as number;
      this.start[i] = old.start[j] as number;
      this.lockStart[i] = old.lockStart[j] as number;
      this.lockKind[i] = old.lockKind[j] as number;
      this.slot[i] = old.slot[j] as number;
    }
  }
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
  private readonly tasks = new TaskTable();
  /** Tasks in a traced syscall now. */
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

  /** The by-process slot of a task (`entry` its TaskTable entry, or -1) whose event carried no name. */
  private resolvedSlot(entry: number, tid: number): number {
    const known = entry >= 0 ? (this.tasks.slot[entry] as number) : -1;
    if (known >= 0) return known;
    const slot = this.slotFor(this.opts.resolveComm?.(tid) ?? 'unknown');
    if (entry >= 0) this.tasks.slot[entry] = slot;
    return slot;
  }

  /** The TaskTable entry of `tid`, made if need be; -1 when the table is full of tasks in a syscall. */
  private task(tid: number): number {
    const T = this.tasks;
    const entry = T.find(tid);
    if (entry >= 0) return entry;
    if (T.size >= this.opts.maxInflight) {
      // Full: make room by forgetting the tasks not in a syscall now (rarely needed, O(size)).
      if (this.active === T.size) return -1;
      T.retain((i) => (T.syscall[i] as number) >= 0);
    }
    return T.insert(tid);
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
    this.tasks.forgetSlots();
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
    const T = this.tasks;
    if (kind === ENTER) {
      const traced = TRACED_SYSCALLS[syscall];
      if (traced === undefined) return;
      t.events++;
      this.lastTs = ts;
      const byCpu = this.calls[syscall] as number[];
      byCpu[cpu] = (byCpu[cpu] ?? 0) + 1;
      const k = this.task(tid);
      const slot = text !== undefined && text !== '<...>' ? this.slotFor(text) : this.resolvedSlot(k, tid);
      this.slotCalls[slot] = (this.slotCalls[slot] as number) + 1;
      if (k < 0 || !traced.exit) return;
      if ((T.syscall[k] as number) < 0) this.active++;
      T.syscall[k] = syscall;
      T.start[k] = ts;
      T.lockStart[k] = -1;
      return;
    }
    t.events++;
    if (kind === NAME) {
      if (text === undefined) return;
      const k = T.find(tid);
      if (k >= 0) T.slot[k] = -1;
      this.opts.onName?.(tid, text);
      return;
    }
    const k = T.find(tid);
    if (k < 0) return;
    const inSyscall = T.syscall[k] as number;
    if (inSyscall < 0) return;
    if (kind === EXIT) {
      // unshare/setns exits are not filtered; only those whose entry we saw count.
      if (inSyscall !== syscall) return;
      T.syscall[k] = -1;
      this.active--;
      this.observe(syscall, Math.max(0, ts - (T.start[k] as number)));
      if (value < 0) this.add(t.errors, `${SYSCALL_NAMES[syscall]}\t${errnoName(-value)}`, 1);
    } else if (kind === LOCK_BEGIN) {
      // A mutex's optimistic spin (SPIN|MUTEX) is followed by the sleeping wait (MUTEX) before
      // one contention_end: the wait runs from the first begin.
      if ((T.lockStart[k] as number) < 0) T.lockStart[k] = ts;
      T.lockKind[k] = lockKindIndex(value);
    } else if (kind === LOCK_END) {
      const began = T.lockStart[k] as number;
      if (began < 0) return;
      const i = inSyscall * LOCK_KINDS.length + (T.lockKind[k] as number);
      this.lockWait[i] = (this.lockWait[i] as number) + Math.max(0, ts - began);
      this.lockWaited[i] = 1;
      T.lockStart[k] = -1;
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
    const T = this.tasks;
    T.retain((i) => this.lastTs - (T.start[i] as number) <= maxAgeSeconds);
    // Unused entries hold -1 too.
    this.active = T.syscall.reduce((n, s) => (s >= 0 ? n + 1 : n), 0);
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
