/**
 * The trace events the tracefs source records, and what their fields mean: the mount-family
 * syscalls (with the in-kernel filters that keep only namespace-creating unshare/setns/clone), the
 * lock-contention events, and the events that rename a task (read with raw pages, whose records
 * carry only a pid). Pure, apart from availableEvents(), which looks under a tracefs mount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const CLONE_NEWNS = 0x20000;

/** Each traced syscall: the event name and the filter on its enter event (unshare/clone/setns only count CLONE_NEWNS). */
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

/** Traced syscall name → its index in TRACED_SYSCALLS, the number the aggregator takes. */
const TRACED = new Map(TRACED_SYSCALLS.map((s, i) => [s.name, i]));

/** mount(2) flags (include/uapi/linux/mount.h) that choose what path_mount() does. */
const MS = {
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  PROPAGATION: (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20), // UNBINDABLE | PRIVATE | SLAVE | SHARED
  /** The magic number old callers put in the top 16 bits; the kernel drops it. */
  MGC_MSK: 0xffff0000,
  MGC_VAL: 0xc0ed0000,
} as const;
const OPEN_TREE_CLONE = 1;
/** The syscalls whose entry's `flags` say whether they make a mount: read by the decoders. */
export const FLAGS_READ = new Set(['mount', 'open_tree']);
const MOUNT_ID = TRACED.get('mount') as number;
const OPEN_TREE_ID = TRACED.get('open_tree') as number;
const FSMOUNT_ID = TRACED.get('fsmount') as number;

/**
 * Whether a call of a traced syscall with these entry `flags` makes a new mount, if it succeeds:
 * mount(2) of a filesystem or a bind (path_mount()'s order: a remount or a bind remount makes
 * none, then MS_BIND makes one, then a propagation change or MS_MOVE makes none, else a new
 * mount), open_tree(OPEN_TREE_CLONE) (a detached copy, attached later by move_mount or used as a
 * layer), fsmount (a new mount of a configured filesystem). A recursive bind or clone copies a
 * subtree: counted as one. Every mount made is attached and detached again (by umount, or with its
 * mount namespace, which no syscall shows): two table changes under the mount locks.
 */
export function makesMount(syscall: number, flags: number): boolean {
  if (syscall === FSMOUNT_ID) return true;
  if (syscall === OPEN_TREE_ID) return (flags & OPEN_TREE_CLONE) !== 0;
  if (syscall !== MOUNT_ID) return false;
  let f = flags >>> 0;
  if ((f & MS.MGC_MSK) >>> 0 === MS.MGC_VAL) f &= ~MS.MGC_MSK;
  if (f & MS.REMOUNT) return false;
  if (f & MS.BIND) return true;
  return (f & (MS.PROPAGATION | MS.MOVE)) === 0;
}
/** Names beyond the traced ones: syscalls whose events an instance recorded but the aggregator ignores. */
const SYSCALL_NAMES = TRACED_SYSCALLS.map((s) => s.name);
const SYSCALL_IDS = new Map(TRACED);

/** The number the aggregator takes for a traced syscall's name; -1 for any other. */
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

/**
 * The readers: opens of a mount table file (/proc/<pid>/mountinfo, /proc/self/mounts, /proc/mounts
 * …), each the start of a read that renders every mount under namespace_sem. Counted by process at
 * entry, not timed. The in-kernel filter reads the path from user space (`.ustring`, Linux 5.17+);
 * where the kernel cannot, the readers go uncounted and the rest is traced as before. An open
 * relative to a directory descriptor (openat(dirfd of /proc/<pid>, "mountinfo")) is not seen.
 */
export const READER_SYSCALLS = ['openat', 'open'] as const;
const READER_FILTER = 'filename.ustring ~ "*/mountinfo" || filename.ustring ~ "*/mounts"';
const READER_IDS = new Set<number>(READER_SYSCALLS.map((name) => syscallId(name)));

/** Whether a syscallId() is a reader's open (READER_SYSCALLS). */
export function isReaderSyscall(id: number): boolean {
  return READER_IDS.has(id);
}

/**
 * The syscall and lock events an instance enables, with the filter of each (paths under events/);
 * with `readers`, the readers' too, `optional`: left out where their filter is refused.
 */
export function tracedEvents(readers = false): Array<{ event: string; filter?: string; optional?: boolean }> {
  const events: Array<{ event: string; filter?: string; optional?: boolean }> = [];
  for (const s of TRACED_SYSCALLS) {
    events.push({ event: `syscalls/sys_enter_${s.name}`, filter: s.enterFilter });
    if (s.exit) events.push({ event: `syscalls/sys_exit_${s.name}` });
  }
  events.push({ event: 'lock/contention_begin' }, { event: 'lock/contention_end' });
  if (readers)
    for (const name of READER_SYSCALLS)
      events.push({ event: `syscalls/sys_enter_${name}`, filter: READER_FILTER, optional: true });
  return events;
}

/**
 * Events that name a task, read in either format (raw records carry only a pid; trace_pipe's text
 * names a task as it is called when the line is read): a new task's name at fork, and every rename
 * after, PR_SET_NAME's and each exec's (the kernel traces task_rename whenever it sets a task's
 * name, with the name it sets, which sched_process_exec's file name does not always give: fexecve's
 * is /dev/fd/N). In time order with the syscalls, they name each call's task as it was called when
 * it made the call, however late the reader reads the record: runc's init makes its mounts as
 * "runc:[2:INIT]" and then exec's the container's process.
 */
export const NAME_EVENTS = ['sched/sched_process_fork', 'task/task_rename'];

/** lock:contention_begin flag bits (include/trace/events/lock.h, LCB_F_*). */
export const LOCK_FLAGS = { SPIN: 1, READ: 2, WRITE: 4, RT: 8, PERCPU: 16, MUTEX: 32 } as const;

/** Lock kinds, as the lock wait metric labels them; lockKindIndex() indexes this list. */
export const LOCK_KINDS = [
  'percpu_rwsem_write',
  'percpu_rwsem_read',
  'mutex',
  'rt_mutex',
  'rwlock_write',
  'rwlock_read',
  'spin',
  'rwsem_write',
  'rwsem_read',
  'other',
] as const;

/**
 * What kind of lock a contention_begin's flags describe, as an index into LOCK_KINDS. An optimistic
 * spin on a mutex (SPIN|MUTEX) is still a mutex wait; SPIN with READ or WRITE is an rwlock.
 */
export function lockKindIndex(flags: number): number {
  const { SPIN, READ, WRITE, RT, PERCPU, MUTEX } = LOCK_FLAGS;
  if (flags & PERCPU) return flags & WRITE ? 0 : 1;
  if (flags & MUTEX) return 2;
  if (flags & RT) return 3;
  if (flags & SPIN) return flags & WRITE ? 4 : flags & READ ? 5 : 6;
  if (flags & WRITE) return 7;
  if (flags & READ) return 8;
  return 9;
}

export interface AvailableEvents {
  /** The traced syscalls this kernel has tracepoints for. */
  syscalls: string[];
  lockContention: boolean;
}

/** Which of the events the tracefs source needs exist under a tracefs mount. */
export function availableEvents(tracefsDir: string): AvailableEvents {
  const has = (e: string) => fs.existsSync(path.join(tracefsDir, 'events', e));
  return {
    syscalls: TRACED_SYSCALLS.map((s) => s.name).filter((n) => has(`syscalls/sys_enter_${n}`)),
    lockContention: has('lock/contention_begin') && has('lock/contention_end'),
  };
}
