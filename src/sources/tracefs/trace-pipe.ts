/**
 * Pure parser for the text lines of a tracefs instance's `trace_pipe`, for the events the tracefs
 * collector enables:
 *
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: sys_mount(dev_name: 0x…, …, flags: 0x…, data: 0x…)
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: sys_mount -> 0xfffffffffffffff0
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: contention_begin: 00000000abcd (flags=SPIN|MUTEX)
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: contention_end: 00000000abcd (ret=0)
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: sched_process_fork: comm=sh pid=10 child_comm=sh child_pid=11
 *   <comm>-<tid>  [<cpu>] <irq flags> <secs>.<usecs>: task_rename: pid=11 oldcomm=sh newcomm=mount oom_score_adj=0
 *   CPU:3 [LOST 120 EVENTS]
 *
 * The comm may contain spaces and dashes (the tid is the last "-<digits>" before the CPU column);
 * `<...>` means the kernel's comm cache had no name for the task. That comm is the task's name when
 * the line is read; the fork and rename lines give its names at the time (NAME_EVENTS).
 */
import { ParseError } from '../../errors';
import { FLAGS_READ, LOCK_FLAGS } from './events';

export type TraceEvent =
  | { kind: 'enter'; syscall: string; comm: string; tid: number; cpu: number; ts: number; flags?: number }
  | { kind: 'exit'; syscall: string; comm: string; tid: number; cpu: number; ts: number; ret: number }
  | { kind: 'lock_begin'; comm: string; tid: number; cpu: number; ts: number; flags: number }
  | { kind: 'lock_end'; comm: string; tid: number; cpu: number; ts: number }
  | { kind: 'name'; comm: string; tid: number; cpu: number; ts: number; name: string }
  | { kind: 'lost'; cpu: number; count: number }
  | { kind: 'other' };

/** An event with a task and a time: what trace_pipe_raw records decode to. */
export type TimedEvent = Exclude<TraceEvent, { kind: 'lost' } | { kind: 'other' }>;

const HEAD = /^\s*(.*?)-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(\d+)\]\s+\S+\s+(\d+\.\d+): /;
// A comm is at most 15 bytes, so " pid=<n> child_comm=" (18 or more) ends the parent's name for sure;
// the child's is its parent's. A rename's old and new names may each hold " newcomm=" (a task can call
// itself anything): the last one is taken, so only a task that names itself so can be misnamed.
const FORK = /^comm=.*? pid=-?\d+ child_comm=(.*) child_pid=(\d+)\s*$/;
const RENAME = /^(?:pid=(\d+) )?oldcomm=.* newcomm=(.*) oom_score_adj=-?\d+\s*$/;
const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]$/;

function parseFlags(text: string, source: string, lineNo: number): number {
  let flags = 0;
  if (text === '0' || text === '') return 0;
  for (const name of text.split('|')) {
    const bit = (LOCK_FLAGS as Record<string, number>)[name];
    if (bit === undefined) {
      if (/^0x[0-9a-f]+$/.test(name)) flags |= Number(name);
      else throw new ParseError(source, lineNo, `unknown lock flag "${name}"`);
    } else flags |= bit;
  }
  return flags;
}

/** The syscall return value of "-> 0x…": a 64-bit two's-complement number, so errors are negative. */
function parseRet(hex: string): number {
  const v = BigInt.asIntN(64, BigInt(hex));
  return Number(v);
}

/**
 * One line of trace_pipe. Events other than the ones we enable come back as `{kind: 'other'}`;
 * a line without the documented shape is a ParseError naming the line.
 */
export function parseTraceLine(line: string, source = 'trace_pipe', lineNo = 0): TraceEvent {
  const head = HEAD.exec(line);
  if (!head) {
    const lost = LOST.exec(line);
    if (lost) return { kind: 'lost', cpu: Number(lost[1]), count: Number(lost[2]) };
    throw new ParseError(source, lineNo, `not a trace event line: ${JSON.stringify(line.slice(0, 120))}`);
  }
  const comm = head[1] as string;
  const tid = Number(head[2]);
  const cpu = Number(head[3]);
  const ts = Number(head[4]);
  const body = line.slice(head[0].length);

  if (body.startsWith('sys_')) {
    const arrow = body.indexOf(' -> ');
    const paren = body.indexOf('(');
    if (arrow > 0 && (paren < 0 || arrow < paren)) {
      const hex = body.slice(arrow + 4).trim();
      if (!/^0x[0-9a-f]+$/.test(hex)) throw new ParseError(source, lineNo, `bad syscall return value "${hex}"`);
      return { kind: 'exit', syscall: body.slice(4, arrow), comm, tid, cpu, ts, ret: parseRet(hex) };
    }
    if (paren > 4) {
      const syscall = body.slice(4, paren);
      if (!FLAGS_READ.has(syscall)) return { kind: 'enter', syscall, comm, tid, cpu, ts };
      // mount and open_tree: the flags that say whether the call makes a mount (its low 32 bits).
      // The kernel prints each argument as %#lx: "0" for zero, else "0x…".
      const m = /[(\s]flags: (?:0x([0-9a-f]+)|0)[,)]/.exec(body);
      if (!m) throw new ParseError(source, lineNo, `sys_${syscall} entry without flags`);
      return { kind: 'enter', syscall, comm, tid, cpu, ts, flags: Number.parseInt((m[1] ?? '0').slice(-8), 16) };
    }
    throw new ParseError(source, lineNo, `bad syscall event "${body.slice(0, 60)}"`);
  }
  if (body.startsWith('contention_begin: ')) {
    const m = /\(flags=([^)]*)\)\s*$/.exec(body);
    if (!m) throw new ParseError(source, lineNo, 'contention_begin without flags');
    return { kind: 'lock_begin', comm, tid, cpu, ts, flags: parseFlags(m[1] as string, source, lineNo) };
  }
  if (body.startsWith('contention_end: ')) return { kind: 'lock_end', comm, tid, cpu, ts };
  if (body.startsWith('sched_process_fork: ')) {
    const m = FORK.exec(body.slice(20));
    if (!m) throw new ParseError(source, lineNo, 'sched_process_fork without child_comm and child_pid');
    return { kind: 'name', comm, tid: Number(m[2]), cpu, ts, name: m[1] as string };
  }
  if (body.startsWith('task_rename: ')) {
    // Kernels whose event has no pid field rename the task that ran it (exec, PR_SET_NAME).
    const m = RENAME.exec(body.slice(13));
    if (!m) throw new ParseError(source, lineNo, 'task_rename without newcomm');
    return { kind: 'name', comm, tid: m[1] === undefined ? tid : Number(m[1]), cpu, ts, name: m[2] as string };
  }
  return { kind: 'other' };
}
