/**
 * Task names for the trace reader. trace_pipe lines carry the kernel's name for the task when the
 * line is read; raw records carry only its pid. A live task's name is read from /proc/<tid>/comm,
 * where that procfs is the initial PID namespace's (trace events carry that namespace's pids: in any
 * other, the same number is another task or none). A task that has exited (a storm's short-lived
 * mount helpers often have by the time their events are read) is looked up in the kernel's pid →
 * comm cache, saved_cmdlines, which trace_pipe uses too.
 *
 * Answers, found or not, hold until expire() (the reader calls it every second): a storm's busy
 * threads cost one small read a second, not one per event, and saved_cmdlines (thousands of lines on
 * recent kernels, formatted by the kernel at every read) is read at most once per expiry, and only
 * when a task has gone.
 *
 * Those sources, like trace_pipe's own text, give a task's name when its record is read, not when it
 * made the call. The trace's own events name it at the time instead (name(), from sched_process_fork
 * and task_rename, which the kernel records at every exec too, in time order with the syscalls), and
 * those names win (eventName()): a task born while tracing is named from its fork on, whatever it
 * exec's into before its records are read. They are kept past expire() (a rename is final until the
 * next event), for at least EVENT_NAME_GENERATIONS expiries after a task's last event or lookup, and
 * at most EVENT_NAMES_MAX tasks a generation (a fork storm ages them sooner): then /proc answers again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The initial PID namespace's inode number (PROC_PID_INIT_INO), the same on every kernel. */
const INIT_PID_NS = 'pid:[4026531836]';

/**
 * Whether `procfs` is the initial PID namespace's: its `self` is this process, in that namespace
 * (this process's own link needs no ptrace access, as PID 1's would). False where it cannot be told.
 */
export function isInitialPidNamespace(procfs: string): boolean {
  try {
    return fs.readlinkSync(path.join(procfs, 'self', 'ns', 'pid')) === INIT_PID_NS;
  } catch {
    return false;
  }
}

/** Expiries (seconds, as the reader calls expire()) an event's name outlives its task's last use. */
const EVENT_NAME_GENERATIONS = 30;
/** Tasks named by events kept a generation: a fork storm of tens of thousands a second ages them sooner. */
const EVENT_NAMES_MAX = 16_384;

export class TaskNames {
  /** Looked up in /proc or saved_cmdlines (null: neither knew): forgotten at every expire(). */
  private readonly known = new Map<number, string | null>();
  /** Named by the trace's events: this generation's, and the one before (still answered, moved up when used). */
  private named = new Map<number, string>();
  private namedBefore = new Map<number, string>();
  private expiries = 0;
  private cmdlines: Map<number, string> | undefined;
  /** Whether /proc/<tid> is the task a trace event's pid names. */
  readonly procfsUsable: boolean;

  /** `cmdlinesToo`: look in the tracefs mount's saved_cmdlines too (raw records; trace_pipe has done so itself). */
  constructor(
    private readonly procfs: string,
    private readonly tracefsDir: string,
    private readonly cmdlinesToo: boolean,
  ) {
    this.procfsUsable = isInitialPidNamespace(procfs);
  }

  /** The task's name; undefined where no source knows it. */
  resolve(tid: number): string | undefined {
    const named = this.eventName(tid);
    if (named !== undefined) return named;
    const known = this.known.get(tid);
    if (known !== undefined) return known ?? undefined;
    let name = this.procfsUsable ? this.procComm(tid) : undefined;
    if (name === undefined && this.cmdlinesToo) {
      this.cmdlines ??= this.readCmdlines();
      name = this.cmdlines.get(tid);
    }
    this.known.set(tid, name ?? null);
    return name;
  }

  /** The name the trace's events gave the task, if they did: its name at the time of its calls. */
  eventName(tid: number): string | undefined {
    const named = this.named.get(tid);
    if (named !== undefined) return named;
    const before = this.namedBefore.get(tid);
    if (before !== undefined) this.name(tid, before);
    return before;
  }

  /** From a trace event (fork, or a rename: PR_SET_NAME or exec): `tid` is called `comm` from this event on. */
  name(tid: number, comm: string): void {
    if (this.named.size >= EVENT_NAMES_MAX) this.age();
    this.named.set(tid, comm);
  }

  /** Forgets the answers /proc and saved_cmdlines gave; ages the events' names a step. */
  expire(): void {
    this.known.clear();
    this.cmdlines = undefined;
    if (++this.expiries >= EVENT_NAME_GENERATIONS) this.age();
  }

  /** Forgets every name, the events' too: for when nothing records them (tracing disarmed), so they may go stale. */
  clear(): void {
    this.known.clear();
    this.cmdlines = undefined;
    this.named.clear();
    this.namedBefore.clear();
    this.expiries = 0;
  }

  /** Event names not used for a generation are dropped. */
  private age(): void {
    this.expiries = 0;
    this.namedBefore = this.named;
    this.named = new Map();
  }

  private procComm(tid: number): string | undefined {
    try {
      return fs.readFileSync(path.join(this.procfs, String(tid), 'comm'), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  private readCmdlines(): Map<number, string> {
    try {
      return parseSavedCmdlines(fs.readFileSync(path.join(this.tracefsDir, 'saved_cmdlines'), 'utf8'));
    } catch {
      return new Map();
    }
  }
}

/** The `saved_cmdlines` file ("<pid> <comm>" lines): the kernel's cache of task names, which trace_pipe uses too. */
export function parseSavedCmdlines(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const pid = Number(line.slice(0, sp));
    if (Number.isInteger(pid) && pid > 0) out.set(pid, line.slice(sp + 1));
  }
  return out;
}
