/**
 * Turns trace events (trace_pipe lines, or records decoded from trace_pipe_raw pages) into what
 * changed since the last take(): calls by syscall and CPU, errors, calls by process, lock wait and
 * durations. Pure: no I/O, so tests feed it captured input. Memory is bounded whatever the event
 * rate: lines are parsed as they come (a partial last line is carried), in-flight syscalls are kept
 * per task up to a cap, process names beyond the first `topProcesses` are counted as "other", and
 * every count is a typed slot reset by take(), never a key that accumulates.
 */
import { errorMessage, ParseError } from '../../errors';
import { errnoName } from '../../kernel/errno';
import { isReaderSyscall, LOCK_KINDS, lockKindIndex, makesMount, syscallId, TRACED_SYSCALLS } from './events';
import { ACTORS, actorOf, type Actor } from './actors';
import { TaskTable } from './task-table';
import { parseTraceLine, type TraceEvent } from './trace-pipe';

/** Distinct task names given a slot of their own (by-process label and actor); the rest share OVERFLOW's. */
const MAX_NAMES = 4096;
/** Longer than any comm (15 bytes), so no task is called this. */
const OVERFLOW = '(names past MAX_NAMES)';

/** Event kinds of TraceAggregator.account(), the allocation-free entry point. */
export const ENTER = 0;
export const EXIT = 1;
export const LOCK_BEGIN = 2;
export const LOCK_END = 3;
/** A task was named (fork, exec, or PR_SET_NAME): `text` holds the name, `tid` the task. */
export const NAME = 4;

/**
 * Durations of one syscall: counts[i] is the number of durations ≤ buckets[i] (not cumulative), the
 * last slot +Inf.
 */
export interface DurationDelta {
  syscall: string;
  counts: number[];
  sum: number;
}

/** What the events since the previous take() added up to. */
export interface TraceDelta {
  /** Events accounted. */
  events: number;
  /** Lines or records without the documented shape; the last one's message. */
  parseErrors: number;
  lastParseError?: string;
  /**
   * Events lost before they were read: the stream's own loss markers ("[LOST n EVENTS]", a page's
   * missed-events count). The kernel-events thread puts the ring buffer's per-CPU counts here instead where
   * it can read them: they count the same events, and every one of them.
   */
  lost: number;
  calls: Array<{ syscall: string; cpu: number; count: number }>;
  /**
   * New mounts made by the syscalls that returned success (makesMount: mount(2) of a filesystem or
   * a bind, open_tree(OPEN_TREE_CLONE), fsmount), in every mount namespace, short-lived ones included.
   */
  mountsMade: number;
  errors: Array<{ syscall: string; errno: string; count: number }>;
  byProcess: Array<{ comm: string; count: number }>;
  /** The same by container-start actor (actorOf the name), whatever the top-processes cut. */
  byActor: Array<{ actor: Actor; count: number }>;
  /** Opens of a mount table file (the readers: READER_SYSCALLS), and by process, named as byProcess names. */
  tableOpens: number;
  tableOpensByProcess: Array<{ comm: string; count: number }>;
  lockWait: Array<{ syscall: string; kind: string; seconds: number }>;
  durations: DurationDelta[];
  /** Tasks inside a traced syscall at the time of the take (a gauge, not a delta). */
  inflight: number;
}

export interface AggregatorOptions {
  buckets: readonly number[];
  topProcesses: number;
  maxInflight: number;
  /** Resolves "<...>" (the kernel's comm cache missed) to a name, e.g. from /proc/<tid>/comm. */
  resolveComm?: (tid: number) => string | undefined;
  /** Told of a NAME event (fork, exec, PR_SET_NAME): from then on, `tid` is called `comm`. */
  onName?: (tid: number, comm: string) => void;
  /**
   * The name NAME events gave `tid`, if any: it wins over the name a trace_pipe line carries, which
   * is the task's name when the line is read, not when it made the call.
   */
  eventName?: (tid: number) => string | undefined;
}

export class TraceAggregator {
  private carry = '';
  private lineNo = 0;
  private lastTs = 0;
  private readonly tasks = new TaskTable();
  /** Tasks in a traced syscall now. */
  private active = 0;
  private events = 0;
  private parseErrors = 0;
  private lastParseError: string | undefined;
  private lostInStream = 0;
  /** Calls of each traced syscall by CPU. */
  private readonly calls: number[][] = TRACED_SYSCALLS.map(() => []);
  private mountsMade = 0;
  /** Errors by syscall × 65536 + errno. */
  private readonly errors = new Map<number, number>();
  /** Seconds of lock wait and waits ended, [syscall × LOCK_KINDS.length + kind]. */
  private readonly lockWait = new Float64Array(TRACED_SYSCALLS.length * LOCK_KINDS.length);
  private readonly lockWaits = new Uint32Array(this.lockWait.length);
  /** Duration bucket counts, [syscall × (buckets + 1) + bucket], and sums by syscall. */
  private readonly durationCounts: Float64Array;
  private readonly durationSums = new Float64Array(TRACED_SYSCALLS.length);
  private readonly durationSeen = new Uint8Array(TRACED_SYSCALLS.length);
  /**
   * Calls by process: a slot per name (up to MAX_NAMES, then one for the rest), each labelled with
   * its name (the first `topProcesses` names) or "other", and with its actor.
   */
  private readonly slotOfName = new Map<string, number>();
  private readonly slotLabels: string[] = [];
  private readonly slotActors: number[] = [];
  private readonly slotCalls: number[] = [];
  private readonly slotOpens: number[] = [];
  private named = 0;

  constructor(private readonly opts: AggregatorOptions) {
    this.durationCounts = new Float64Array(TRACED_SYSCALLS.length * (opts.buckets.length + 1));
  }

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
      this.malformed(new ParseError('trace_pipe', this.lineNo + 1, 'line longer than 64 KiB'));
      this.carry = '';
    }
  }

  /** A line or record that could not be decoded: counted, and the last one's message kept. */
  malformed(err: unknown): void {
    this.parseErrors++;
    this.lastParseError = errorMessage(err);
  }

  /** Events the stream says it lost before the ones that follow. */
  lost(count: number): void {
    this.lostInStream += count;
  }

  /**
   * The by-process slot of a task (`entry` its TaskTable entry, or -1) whose event carried `text`
   * (trace_pipe's name for it, "<...>" where the kernel's cache had none) or no name (raw records).
   */
  private slotOfTask(entry: number, tid: number, text: string | undefined): number {
    if (text === undefined || text === '<...>') return this.resolvedSlot(entry, tid);
    return this.slotFor(this.opts.eventName?.(tid) ?? text);
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
    // Past MAX_NAMES distinct names, the rest share one slot: "other", by no actor.
    if (this.slotOfName.size >= MAX_NAMES && name !== OVERFLOW) return this.slotFor(OVERFLOW);
    let label = 'other';
    if (name !== 'other' && name !== OVERFLOW && this.named < this.opts.topProcesses) {
      this.named++;
      label = name;
    }
    slot = this.slotLabels.push(label) - 1;
    this.slotActors.push(ACTORS.indexOf(name === OVERFLOW ? 'other' : actorOf(name)));
    this.slotCalls.push(0);
    this.slotOpens.push(0);
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
      this.malformed(err);
      return;
    }
    this.event(ev);
  }

  /** Accounts one event, from a trace_pipe line; events must come in time order. */
  event(ev: TraceEvent): void {
    switch (ev.kind) {
      case 'enter':
        this.account(ENTER, syscallId(ev.syscall), ev.tid, ev.cpu, ev.ts, ev.flags ?? 0, ev.comm);
        break;
      case 'exit':
        this.account(EXIT, syscallId(ev.syscall), ev.tid, ev.cpu, ev.ts, ev.ret);
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
        this.lost(ev.count);
        break;
      case 'other':
        break;
    }
  }

  /**
   * Accounts one event without allocating (the raw reader's path). `syscall`: its syscallId()
   * (traced ones and the readers' opens count; others are ignored); `value`: an exit's return value,
   * a lock_begin's flags, or a mount or open_tree entry's flags (FLAGS_READ);
   * `text`: for ENTER the kernel's name for the task where it gave one (else resolveComm is asked),
   * for NAME the task's new name.
   */
  account(kind: number, syscall: number, tid: number, cpu: number, ts: number, value: number, text?: string): void {
    const T = this.tasks;
    if (kind === ENTER) {
      const traced = TRACED_SYSCALLS[syscall];
      if (traced === undefined) {
        if (isReaderSyscall(syscall)) this.opened(tid, ts, text);
        return;
      }
      this.events++;
      this.lastTs = ts;
      const byCpu = this.calls[syscall] as number[];
      byCpu[cpu] = (byCpu[cpu] ?? 0) + 1;
      const k = this.task(tid);
      const slot = this.slotOfTask(k, tid, text);
      this.slotCalls[slot] = (this.slotCalls[slot] as number) + 1;
      if (k < 0 || !traced.exit) return;
      if ((T.syscall[k] as number) < 0) this.active++;
      T.syscall[k] = syscall;
      T.start[k] = ts;
      T.lockStart[k] = -1;
      T.makes[k] = makesMount(syscall, value) ? 1 : 0;
      return;
    }
    this.events++;
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
      if (value >= 0) this.mountsMade += T.makes[k] as number;
      else {
        const key = syscall * 65536 + Math.min(-value, 65535);
        this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
      }
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
      this.lockWaits[i] = (this.lockWaits[i] as number) + 1;
      T.lockStart[k] = -1;
    }
  }

  /** A reader opened a mount table file: counted by its name, never in flight (its read is not timed). */
  private opened(tid: number, ts: number, text: string | undefined): void {
    this.events++;
    this.lastTs = ts;
    const slot = this.slotOfTask(this.tasks.find(tid), tid, text);
    this.slotOpens[slot] = (this.slotOpens[slot] as number) + 1;
  }

  private observe(syscall: number, seconds: number): void {
    const buckets = this.opts.buckets;
    let i = 0;
    while (i < buckets.length && seconds > (buckets[i] as number)) i++;
    const at = syscall * (buckets.length + 1) + i;
    this.durationCounts[at] = (this.durationCounts[at] as number) + 1;
    this.durationSums[syscall] = (this.durationSums[syscall] as number) + seconds;
    this.durationSeen[syscall] = 1;
  }

  /**
   * Forgets syscalls in flight for longer than `maxAgeSeconds` of trace time (their task died, or
   * the exit event was lost to an overrun), so the task table never fills with ghosts.
   */
  expire(maxAgeSeconds: number): void {
    const T = this.tasks;
    T.retain((i) => this.lastTs - (T.start[i] as number) <= maxAgeSeconds);
    // Unused entries hold -1 too.
    this.active = T.syscall.reduce((n, s) => (s >= 0 ? n + 1 : n), 0);
  }

  /** What changed since the previous take(); every count starts again from 0. */
  take(): TraceDelta {
    const d: TraceDelta = {
      events: this.events,
      parseErrors: this.parseErrors,
      lastParseError: this.lastParseError,
      lost: this.lostInStream,
      calls: [],
      mountsMade: this.mountsMade,
      errors: [],
      byProcess: [],
      byActor: [],
      tableOpens: 0,
      tableOpensByProcess: [],
      lockWait: [],
      durations: [],
      inflight: this.active,
    };
    this.events = 0;
    this.parseErrors = 0;
    this.lastParseError = undefined;
    this.lostInStream = 0;
    this.mountsMade = 0;
    this.calls.forEach((byCpu, s) => {
      byCpu.forEach((count, cpu) => {
        if (count > 0) d.calls.push({ syscall: TRACED_SYSCALLS[s]?.name as string, cpu, count });
      });
      byCpu.length = 0;
    });
    for (const [key, count] of this.errors)
      d.errors.push({
        syscall: TRACED_SYSCALLS[Math.floor(key / 65536)]?.name as string,
        errno: errnoName(key % 65536),
        count,
      });
    this.errors.clear();
    const byLabel = new Map<string, number>();
    const byActor = new Array<number>(ACTORS.length).fill(0);
    this.slotCalls.forEach((count, slot) => {
      if (count === 0) return;
      const label = this.slotLabels[slot] as string;
      byLabel.set(label, (byLabel.get(label) ?? 0) + count);
      const a = this.slotActors[slot] as number;
      byActor[a] = (byActor[a] as number) + count;
      this.slotCalls[slot] = 0;
    });
    for (const [comm, count] of byLabel) d.byProcess.push({ comm, count });
    const opensByLabel = new Map<string, number>();
    this.slotOpens.forEach((count, slot) => {
      if (count === 0) return;
      const label = this.slotLabels[slot] as string;
      opensByLabel.set(label, (opensByLabel.get(label) ?? 0) + count);
      d.tableOpens += count;
      this.slotOpens[slot] = 0;
    });
    for (const [comm, count] of opensByLabel) d.tableOpensByProcess.push({ comm, count });
    byActor.forEach((count, a) => {
      if (count > 0) d.byActor.push({ actor: ACTORS[a] as Actor, count });
    });
    for (let i = 0; i < this.lockWait.length; i++) {
      if (this.lockWaits[i] === 0) continue;
      d.lockWait.push({
        syscall: TRACED_SYSCALLS[Math.floor(i / LOCK_KINDS.length)]?.name as string,
        kind: LOCK_KINDS[i % LOCK_KINDS.length] as string,
        seconds: this.lockWait[i] as number,
      });
    }
    this.lockWait.fill(0);
    this.lockWaits.fill(0);
    const width = this.opts.buckets.length + 1;
    for (let s = 0; s < TRACED_SYSCALLS.length; s++) {
      if (this.durationSeen[s] === 0) continue;
      d.durations.push({
        syscall: TRACED_SYSCALLS[s]?.name as string,
        counts: Array.from(this.durationCounts.subarray(s * width, (s + 1) * width)),
        sum: this.durationSums[s] as number,
      });
    }
    this.durationCounts.fill(0);
    this.durationSums.fill(0);
    this.durationSeen.fill(0);
    return d;
  }
}

/** Adds `b` into `a` (both deltas of the same aggregator's events, `b` the later), for readers that take more often than they report. */
export function mergeDeltas(a: TraceDelta, b: TraceDelta): TraceDelta {
  const sumBy = <T>(xs: T[], key: (x: T) => string, add: (into: T, x: T) => void): T[] => {
    const out = new Map<string, T>();
    for (const x of xs) {
      const k = key(x);
      const have = out.get(k);
      if (have) add(have, x);
      else out.set(k, structuredClone(x));
    }
    return [...out.values()];
  };
  return {
    events: a.events + b.events,
    parseErrors: a.parseErrors + b.parseErrors,
    lastParseError: b.lastParseError ?? a.lastParseError,
    lost: a.lost + b.lost,
    calls: sumBy(
      [...a.calls, ...b.calls],
      (x) => `${x.syscall}\t${x.cpu}`,
      (i, x) => (i.count += x.count),
    ),
    mountsMade: a.mountsMade + b.mountsMade,
    errors: sumBy(
      [...a.errors, ...b.errors],
      (x) => `${x.syscall}\t${x.errno}`,
      (i, x) => (i.count += x.count),
    ),
    byProcess: sumBy(
      [...a.byProcess, ...b.byProcess],
      (x) => x.comm,
      (i, x) => (i.count += x.count),
    ),
    byActor: sumBy(
      [...a.byActor, ...b.byActor],
      (x) => x.actor,
      (i, x) => (i.count += x.count),
    ),
    tableOpens: a.tableOpens + b.tableOpens,
    tableOpensByProcess: sumBy(
      [...a.tableOpensByProcess, ...b.tableOpensByProcess],
      (x) => x.comm,
      (i, x) => (i.count += x.count),
    ),
    lockWait: sumBy(
      [...a.lockWait, ...b.lockWait],
      (x) => `${x.syscall}\t${x.kind}`,
      (i, x) => (i.seconds += x.seconds),
    ),
    durations: sumBy(
      [...a.durations, ...b.durations],
      (x) => x.syscall,
      (i, x) => {
        i.counts = i.counts.map((c, j) => c + (x.counts[j] as number));
        i.sum += x.sum;
      },
    ),
    inflight: b.inflight,
  };
}
