import * as fs from 'node:fs';
import * as path from 'node:path';
import { ParseError } from '../../src/errors';
import { LATENCY_BUCKETS } from '../../src/exposition';
import { ENTER, EXIT, LOCK_BEGIN, LOCK_END, mergeDeltas, TraceAggregator } from '../../src/sources/tracefs/aggregator';
import { LOCK_KINDS, lockKindIndex, makesMount, tracedSyscall } from '../../src/sources/tracefs/events';
import { parseTraceLine } from '../../src/sources/tracefs/trace-pipe';
import { FIXTURES } from '../support/env';
import { keyed, sumWhere, Totals, type KeyedTotals } from '../support/trace-totals';

// Captured from this kernel by test/fixtures/capture/trace-pipe.sh; its header says what ran.
const CAPTURE = fs.readFileSync(path.join(FIXTURES, 'tracefs/trace_pipe.txt'), 'utf8');

function aggregate(
  chunks: string[],
  opts: Partial<ConstructorParameters<typeof TraceAggregator>[0]> = {},
): KeyedTotals {
  const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 1000, ...opts });
  for (const c of chunks) a.feed(c);
  return keyed(a.take());
}

describe('trace_pipe lines', () => {
  test('syscall entry and exit, with the comm holding a space and dashes', () => {
    expect(
      parseTraceLine('      kubelet -x-22087   [001] .....  6647.566568: sys_umount -> 0xffffffffffffffea'),
    ).toEqual({ kind: 'exit', syscall: 'umount', comm: 'kubelet -x', tid: 22087, cpu: 1, ts: 6647.566568, ret: -22 });
    expect(
      parseTraceLine(
        '   runc:[2:INIT]-9-1234    [013] d..1.  12.000001: sys_mount(dev_name: 0x1, dir_name: 0x2, type: 0, flags: 0x1000, data: 0)',
      ),
    ).toEqual({
      kind: 'enter',
      syscall: 'mount',
      comm: 'runc:[2:INIT]-9',
      tid: 1234,
      cpu: 13,
      ts: 12.000001,
      flags: 0x1000,
    });
    // Zero prints as "0"; open_tree's flags are read too; a mount entry without them is malformed.
    expect(
      parseTraceLine('p-5 [000] ..... 1.0: sys_mount(dev_name: 0x1, dir_name: 0x2, type: 0x3, flags: 0, data: 0)'),
    ).toMatchObject({ kind: 'enter', syscall: 'mount', flags: 0 });
    expect(
      parseTraceLine('p-5 [000] ..... 1.0: sys_open_tree(dfd: 0xffffff9c, filename: 0x4, flags: 0x80001)'),
    ).toMatchObject({ kind: 'enter', syscall: 'open_tree', flags: 0x80001 });
    expect(() => parseTraceLine('p-5 [000] ..... 1.0: sys_mount(dev_name: 0x1)')).toThrow(
      /sys_mount entry without flags/,
    );
  });

  test('record-tgid column and the <...> comm', () => {
    expect(parseTraceLine('           <...>-77      (     70) [000] .....   1.5: sys_open_tree -> 0x3')).toMatchObject({
      kind: 'exit',
      syscall: 'open_tree',
      comm: '<...>',
      tid: 77,
      ret: 3,
    });
  });

  test('lock contention flags and kinds', () => {
    expect(
      parseTraceLine('  umount-21352 [000] ...1.  6286.122552: contention_begin: 00000000ffdd4408 (flags=SPIN|MUTEX)'),
    ).toMatchObject({ kind: 'lock_begin', flags: 33 });
    expect(
      parseTraceLine('  umount-21352 [000] ...1.  6286.122553: contention_end: 00000000ffdd4408 (ret=0)'),
    ).toMatchObject({ kind: 'lock_end', tid: 21352 });
    expect([4, 2, 33, 32, 1, 5, 3, 16 | 2, 8, 0].map((flags) => LOCK_KINDS[lockKindIndex(flags)])).toEqual([
      'rwsem_write',
      'rwsem_read',
      'mutex',
      'mutex',
      'spin',
      'rwlock_write',
      'rwlock_read',
      'percpu_rwsem_read',
      'rt_mutex',
      'other',
    ]);
  });

  test("fork and task_rename lines name a task: the child's name at fork, the new name at exec or PR_SET_NAME", () => {
    expect(
      parseTraceLine(
        '         python3-4021    [001] ..... 6647.1: sched_process_fork: comm=python3 pid=4021 child_comm=python3 child_pid=4022',
      ),
    ).toEqual({ kind: 'name', comm: 'python3', tid: 4022, cpu: 1, ts: 6647.1, name: 'python3' });
    // The line's own comm is the task's name when the line is read; the event's fields say what it was.
    expect(
      parseTraceLine(
        '            true-4022    [000] ..... 6647.2: task_rename: pid=4022 oldcomm=python3 newcomm=true oom_score_adj=0',
      ),
    ).toEqual({ kind: 'name', comm: 'true', tid: 4022, cpu: 0, ts: 6647.2, name: 'true' });
    // A kernel whose task_rename has no pid field renames the task that ran the event.
    expect(
      parseTraceLine('  sh-77 [000] ..... 1.0: task_rename: oldcomm=sh newcomm=mount oom_score_adj=-1000'),
    ).toMatchObject({ kind: 'name', tid: 77, name: 'mount' });
    // Names hold spaces, dashes and the words of the format: a comm is at most 15 bytes, and a rename's
    // last " newcomm=" is taken.
    expect(
      parseTraceLine(
        'a child_comm=b-9 [000] ..... 1.0: sched_process_fork: comm=a child_comm=b pid=9 child_comm=a child_comm=b child_pid=10',
      ),
    ).toMatchObject({ kind: 'name', tid: 10, name: 'a child_comm=b' });
    expect(
      parseTraceLine('x-9 [000] ..... 1.0: task_rename: pid=9 oldcomm=x newcomm=y newcomm=kubelet -x oom_score_adj=0'),
    ).toMatchObject({ kind: 'name', tid: 9, name: 'kubelet -x' });
    expect(() => parseTraceLine('x-9 [000] ..... 1.0: sched_process_fork: comm=x pid=9', 'trace_pipe', 3)).toThrow(
      /trace_pipe:3: sched_process_fork without child_comm/,
    );
    expect(() => parseTraceLine('x-9 [000] ..... 1.0: task_rename: pid=9 oldcomm=x', 'trace_pipe', 4)).toThrow(
      /trace_pipe:4: task_rename without newcomm/,
    );
  });

  test('lost-events marker', () => {
    expect(parseTraceLine('CPU:3 [LOST 120 EVENTS]')).toEqual({ kind: 'lost', cpu: 3, count: 120 });
  });

  test.each([
    ['garbage'],
    ['x-1 [000] ..... 1.0: sys_mount'],
    ['x-1 [000] ..... 1.0: sys_mount -> nothex'],
    ['x-1 [000] ..... 1.0: contention_begin: 0 (flags=BOGUS)'],
    ['x-1 [000] ..... 1.0: contention_begin: 0'],
  ])('%j is a ParseError naming the line', (line) => {
    expect(() => parseTraceLine(line, 'trace_pipe', 7)).toThrow(ParseError);
    expect(() => parseTraceLine(line, 'trace_pipe', 7)).toThrow(/trace_pipe:7:/);
  });

  test('events we do not count are "other", not errors', () => {
    expect(parseTraceLine('  bash-1 [000] ..... 1.0: sched_switch: prev_comm=bash')).toEqual({ kind: 'other' });
  });
});

describe('aggregating a captured trace', () => {
  const t = aggregate([CAPTURE]);

  test('exact counts: the capture script made 256 mounts, 255 umounts, one unshare(CLONE_NEWNS)', () => {
    expect(t.parseErrors).toBe(0);
    expect(sumWhere(t.callsByCpu, 'mount\t')).toBe(256);
    expect(sumWhere(t.callsByCpu, 'umount\t')).toBe(255);
    expect(sumWhere(t.callsByCpu, 'unshare\t')).toBe(1);
    // Every entry was matched with its exit; the unfiltered exit of unshare(CLONE_NEWUSER) is ignored.
    expect(t.durations.mount?.count).toBe(256);
    expect(t.durations.umount?.count).toBe(255);
    expect(t.durations.unshare?.count).toBe(1);
    expect(t.inflight).toBe(0);
  });

  test('new mounts made: the mounts that succeeded, not the one that failed nor the make-private', () => {
    // 256 mount(2) calls: 255 with flags 0 (one failed with ENOENT), and "/" made private (MS_REC|MS_PRIVATE).
    expect(t.mountsMade).toBe(254);
  });

  test('errors by errno, processes by name', () => {
    expect(t.errors).toEqual({ 'umount\tEINVAL': 1, 'mount\tENOENT': 1 });
    expect(t.byProcess['kubelet -x']).toBe(22);
    expect(Object.values(t.byProcess).reduce((a, b) => a + b, 0)).toBe(256 + 255 + 1);
  });

  test('lock wait is attributed only to contention inside mount syscalls', () => {
    const waits = Object.values(t.lockWait);
    expect(waits.length).toBeGreaterThan(0);
    for (const w of waits) expect(w).toBeGreaterThan(0);
    // Bounded by the time those syscalls took.
    const inSyscalls = Object.values(t.durations).reduce((s, d) => s + d.sum, 0);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(inSyscalls + 1e-9);
  });

  test('durations land in the buckets: counts add up and the sum matches', () => {
    const d = t.durations.mount!;
    expect(d.counts.reduce((a, b) => a + b, 0)).toBe(d.count);
    expect(d.sum).toBeGreaterThan(0);
  });

  test('the same text cut at any byte gives the same totals', () => {
    for (const cut of [1, 17, 4096, Math.floor(CAPTURE.length / 2), CAPTURE.length - 3]) {
      expect(aggregate([CAPTURE.slice(0, cut), CAPTURE.slice(cut)])).toEqual(t);
    }
  });
});

describe('new mounts made', () => {
  const id = (name: string) => tracedSyscall(name);
  test("mount(2) by path_mount()'s order: a remount or bind remount makes none, a bind makes one, a propagation change or move none, else a new mount", () => {
    const MS = { RDONLY: 1, REMOUNT: 32, BIND: 4096, MOVE: 8192, REC: 16384, PRIVATE: 1 << 18, SHARED: 1 << 20 };
    const mount = (flags: number) => makesMount(id('mount'), flags);
    expect(mount(0)).toBe(true);
    expect(mount(MS.RDONLY)).toBe(true);
    expect(mount(MS.BIND)).toBe(true);
    expect(mount(MS.BIND | MS.REC)).toBe(true);
    // MS_BIND wins over a propagation flag, as in path_mount().
    expect(mount(MS.BIND | MS.PRIVATE)).toBe(true);
    expect(mount(MS.REMOUNT | MS.RDONLY)).toBe(false);
    expect(mount(MS.REMOUNT | MS.BIND | MS.RDONLY)).toBe(false);
    expect(mount(MS.REC | MS.PRIVATE)).toBe(false);
    expect(mount(MS.SHARED)).toBe(false);
    expect(mount(MS.MOVE)).toBe(false);
    // The magic number old callers put in the top 16 bits is dropped, as the kernel drops it.
    expect(mount(0xc0ed0000)).toBe(true);
    expect(mount(0xc0ed0000 | MS.REMOUNT)).toBe(false);
    expect(makesMount(id('open_tree'), 1)).toBe(true); // OPEN_TREE_CLONE
    expect(makesMount(id('open_tree'), 1 | 0x8000)).toBe(true); // | AT_RECURSIVE
    expect(makesMount(id('open_tree'), 0x80000)).toBe(false); // O_CLOEXEC only: an fd to a mount, no copy
    expect(makesMount(id('fsmount'), 0)).toBe(true);
    for (const other of ['umount', 'move_mount', 'mount_setattr', 'fsopen', 'fsconfig', 'unshare', 'setns'])
      expect(makesMount(id(other), 0)).toBe(false);
  });

  test('counted when the call succeeds, by the flags of its own entry', () => {
    const line = (tid: number, ts: number, body: string) => `p-${tid} [000] ..... ${ts.toFixed(6)}: ${body}\n`;
    const mount = (flags: string) => `sys_mount(dev_name: 0x1, dir_name: 0x2, type: 0x3, flags: ${flags}, data: 0)`;
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 100 });
    a.feed(
      [
        // Two tasks interleaved: a bind that succeeds and a remount that succeeds.
        line(1, 1.0, mount('0x1000')),
        line(2, 1.1, mount('0x20')),
        line(2, 1.2, 'sys_mount -> 0x0'),
        line(1, 1.3, 'sys_mount -> 0x0'),
        // A new mount that fails (ENOENT), a clone that succeeds (fd 5), an fsmount (fd 6).
        line(3, 2.0, mount('0')),
        line(3, 2.1, 'sys_mount -> 0xfffffffffffffffe'),
        line(3, 2.2, 'sys_open_tree(dfd: 0xffffff9c, filename: 0x4, flags: 0x80001)'),
        line(3, 2.3, 'sys_open_tree -> 0x5'),
        line(3, 2.4, 'sys_fsmount(fs_fd: 0x3, flags: 0, attr_flags: 0)'),
        line(3, 2.5, 'sys_fsmount -> 0x6'),
        // The move that attaches the clone makes nothing new.
        line(
          3,
          2.6,
          'sys_move_mount(from_dfd: 0x5, from_pathname: 0x7, to_dfd: 0xffffff9c, to_pathname: 0x8, flags: 0x4)',
        ),
        line(3, 2.7, 'sys_move_mount -> 0x0'),
      ].join(''),
    );
    expect(a.take().mountsMade).toBe(3);
    expect(a.take().mountsMade).toBe(0);
  });
});

describe('bounds', () => {
  const enter = (tid: number, ts: number, comm = 'p') =>
    `${comm}-${tid} [000] ..... ${ts.toFixed(6)}: sys_mount(dev_name: 0, dir_name: 0, type: 0, flags: 0, data: 0)\n`;
  const exit = (tid: number, ts: number, ret = '0x0') => `p-${tid} [000] ..... ${ts.toFixed(6)}: sys_mount -> ${ret}\n`;

  test("the readers' opens of a mount table file are counted by process, apart from the mount syscalls", () => {
    const open = (tid: number, ts: number, comm: string, syscall = 'openat') =>
      `${comm}-${tid} [000] ..... ${ts.toFixed(6)}: sys_${syscall}(dfd: ffffff9c, filename: 7ffd0000, flags: 80000, mode: 0)\n`;
    // Names get their series in the order they come, readers' and mounters' alike: three here.
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 3, maxInflight: 10 });
    a.feed(
      open(1, 1, 'systemd') +
        open(1, 1.1, 'systemd') +
        open(2, 1.2, 'kubelet', 'open') +
        enter(3, 1.3, 'runc') +
        open(4, 1.4, 'udisksd') +
        exit(3, 1.5),
    );
    const d = a.take();
    expect(d.tableOpens).toBe(4);
    expect(Object.fromEntries(d.tableOpensByProcess.map((p) => [p.comm, p.count]))).toEqual({
      systemd: 2,
      kubelet: 1,
      other: 1,
    });
    // The mount syscall alone is a mount syscall; an open is never in flight.
    expect(d.calls).toEqual([{ syscall: 'mount', cpu: 0, count: 1 }]);
    expect(d.byProcess).toEqual([{ comm: 'runc', count: 1 }]);
    expect(d.durations.map((x) => x.syscall)).toEqual(['mount']);
    expect(d.inflight).toBe(0);
    expect(a.take().tableOpens).toBe(0);
  });

  test("a task is counted under the name the trace's events gave it when it made the call, not the line's", () => {
    // A child forked as python3 mounts, then exec's true(1) before its lines are read: trace_pipe
    // prints "true" on all of them. PR_SET_NAME renames the parent mid-way.
    const fork = (ts: number) =>
      `python3-1 [000] ..... ${ts.toFixed(6)}: sched_process_fork: comm=python3 pid=1 child_comm=python3 child_pid=2\n`;
    const rename = (tid: number, ts: number, from: string, to: string) =>
      `${to}-${tid} [000] ..... ${ts.toFixed(6)}: task_rename: pid=${tid} oldcomm=${from} newcomm=${to} oom_score_adj=0\n`;
    const text =
      fork(1) +
      enter(2, 1.1, 'true') +
      exit(2, 1.2) +
      rename(2, 1.3, 'python3', 'true') +
      enter(2, 1.4, 'true') +
      exit(2, 1.5) +
      enter(1, 1.6, 'kubelet -x') +
      exit(1, 1.7) +
      rename(1, 1.8, 'python3', 'kubelet -x') +
      enter(1, 1.9, 'kubelet -x') +
      exit(1, 2.0) +
      enter(3, 2.1, 'runc');
    const names = new Map<number, string>();
    const named = aggregate([text], {
      onName: (tid, c) => names.set(tid, c),
      eventName: (tid) => names.get(tid),
    });
    // The parent's first mount came before the rename, but its fork is not in this trace: the line's name.
    expect(named.byProcess).toEqual({ python3: 1, true: 1, 'kubelet -x': 2, runc: 1 });
    // Without the events' names, the lines' own.
    expect(aggregate([text]).byProcess).toEqual({ true: 2, 'kubelet -x': 2, runc: 1 });
  });

  test('process names beyond the limit are "other", and a named one keeps its series', () => {
    const t = aggregate([enter(1, 1, 'a'), enter(2, 1, 'b'), enter(3, 1, 'c'), enter(4, 1, 'a')], { topProcesses: 2 });
    expect(t.byProcess).toEqual({ a: 2, b: 1, other: 1 });
  });

  test("by actor, whatever the top-processes cut: the shim, the runtime, runc re-exec'd, kubelet, systemd, the rest", () => {
    const names = [
      'containerd-shim',
      'containerd',
      'runc:[2:INIT]',
      'runc',
      'kubelet',
      'systemd',
      'systemd-udevd',
      'sh',
      'crun',
      'conmon',
      'ctr',
    ];
    const t = aggregate(
      names.map((comm, i) => enter(10 + i, 1 + i / 100, comm)),
      { topProcesses: 2 },
    );
    expect(t.byProcess).toEqual({ 'containerd-shim': 1, containerd: 1, other: 9 });
    expect(t.byActor).toEqual({ shim: 2, runtime: 2, 'oci-runtime': 3, kubelet: 1, systemd: 2, other: 1 });
    expect(Object.values(t.byActor).reduce((a, b) => a + b, 0)).toBe(names.length);
  });

  test('past 4,096 distinct names, the rest share one slot: every call still counted, by process and by actor', () => {
    const n = 5000;
    const t = aggregate(
      Array.from({ length: n }, (_, i) => enter(100 + i, 1 + i / 1e5, i === n - 1 ? 'runc' : `p${i}`)),
      { topProcesses: 3 },
    );
    expect(Object.values(t.byProcess).reduce((a, b) => a + b, 0)).toBe(n);
    expect(t.byProcess).toEqual({ p0: 1, p1: 1, p2: 1, other: n - 3 });
    // runc came past the cut, so its call is the overflow's: "other" by actor too.
    expect(t.byActor).toEqual({ other: n });
  });

  test('<...> is resolved through the resolver, else "unknown"', () => {
    expect(
      aggregate([enter(5, 1, '<...>')], { resolveComm: (tid) => (tid === 5 ? 'containerd' : undefined) }).byProcess,
    ).toEqual({ containerd: 1 });
    expect(aggregate([enter(6, 1, '<...>')]).byProcess).toEqual({ unknown: 1 });
  });

  test('in-flight syscalls are capped; the overflow is still counted', () => {
    const t = aggregate([enter(1, 1), enter(2, 1), enter(3, 1), exit(3, 2), exit(1, 2)], { maxInflight: 2 });
    expect(sumWhere(t.callsByCpu, 'mount\t')).toBe(3);
    expect(t.durations.mount?.count).toBe(1);
  });

  test('a full table makes room by forgetting tasks that finished their syscall, never one in flight', () => {
    // 3 takes the place of 1 (done); 4 finds 2 and 3 in flight and is counted, not timed.
    const t = aggregate(
      [enter(1, 1), exit(1, 2), enter(2, 3), enter(3, 4), enter(4, 5), exit(4, 6), exit(3, 7), exit(2, 8)],
      { maxInflight: 2 },
    );
    expect(sumWhere(t.callsByCpu, 'mount\t')).toBe(4);
    expect(t.durations.mount).toMatchObject({ count: 3, sum: 1 + 3 + 5 });
    expect(t.inflight).toBe(0);
  });

  test('thousands of tasks in flight at once, each with its own lock wait: every duration and wait paired to its own task', () => {
    // Enough tasks that the per-task table grows many times while syscalls are in flight, with tids
    // spread as a busy host's are (and some colliding in the table's hash).
    const n = 5000;
    const tid = (i: number) => 100 + ((i * 7919) % 4_000_000);
    const a = new TraceAggregator({
      buckets: LATENCY_BUCKETS,
      topProcesses: 10,
      maxInflight: 65_536,
      resolveComm: () => 'runc',
    });
    const totals = new Totals(a);
    const mount = tracedSyscall('mount');
    for (let i = 0; i < n; i++) a.account(ENTER, mount, tid(i), 0, 1 + i * 1e-6, 0);
    expect(totals.take().inflight).toBe(n);
    for (let i = 0; i < n; i++) a.account(LOCK_BEGIN, -1, tid(i), 1, 2, 4);
    for (let i = 0; i < n; i++) a.account(LOCK_END, -1, tid(i), 1, 2 + (i % 2) * 1e-3, 0);
    // Task i's mount lasts exactly i µs + 1 ms.
    for (let i = n - 1; i >= 0; i--)
      a.account(EXIT, mount, tid(i), 1, 1 + i * 1e-6 + i * 1e-6 + 1e-3, i % 3 === 0 ? -16 : 0);
    const t = totals.take();
    expect(t.inflight).toBe(0);
    expect(t.durations.mount?.count).toBe(n);
    expect(t.durations.mount?.sum).toBeCloseTo(n * 1e-3 + (((n - 1) * n) / 2) * 1e-6, 6);
    expect(t.lockWait['mount\trwsem_write']).toBeCloseTo(Math.floor(n / 2) * 1e-3, 9);
    expect(t.errors).toEqual({ 'mount\tEBUSY': Math.ceil(n / 3) });
    expect(t.byProcess).toEqual({ runc: n });
    // An exit for a task that never entered changes nothing.
    a.account(EXIT, mount, 3, 0, 9, 0);
    expect(totals.take().durations.mount?.count).toBe(n);
  });

  test('a syscall whose exit never comes is forgotten after the max age', () => {
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 10 });
    a.feed(enter(1, 1) + enter(2, 400));
    a.expire(300);
    expect(a.take().inflight).toBe(1);
  });

  test('a runaway line is dropped and counted, memory stays bounded', () => {
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 10 });
    for (let i = 0; i < 100; i++) a.feed('x'.repeat(4096));
    a.feed('\n' + enter(1, 1));
    const t = keyed(a.take());
    expect(t.parseErrors).toBeGreaterThanOrEqual(1);
    expect(sumWhere(t.callsByCpu, 'mount\t')).toBe(1);
  });

  test('a malformed line in the middle is counted and the rest still parsed', () => {
    const t = aggregate([enter(1, 1) + 'garbage\n' + exit(1, 1.5, '0xfffffffffffffff0')]);
    expect(t.parseErrors).toBe(1);
    expect(t.lastParseError).toMatch(/trace_pipe:2:/);
    expect(t.errors).toEqual({ 'mount\tEBUSY': 1 });
  });
});

describe('what changed since the last take', () => {
  const enter = (tid: number, ts: number, comm = 'p') =>
    `${comm}-${tid} [000] ..... ${ts.toFixed(6)}: sys_mount(dev_name: 0, dir_name: 0, type: 0, flags: 0, data: 0)\n`;
  const exit = (tid: number, ts: number, ret = '0x0') => `p-${tid} [000] ..... ${ts.toFixed(6)}: sys_mount -> ${ret}\n`;

  test('take() hands over each count once: a second take holds only what came after the first', () => {
    const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 10 });
    a.feed(enter(1, 1) + exit(1, 1.001, '0xfffffffffffffff0') + enter(2, 2));
    const first = keyed(a.take());
    expect(first).toMatchObject({
      callsByCpu: { 'mount\t0': 2 },
      errors: { 'mount\tEBUSY': 1 },
      byProcess: { p: 2 },
      inflight: 1,
    });
    expect(first.durations.mount?.count).toBe(1);
    // Task 2's mount began before the first take and ends after it: timed, and counted once.
    a.feed(exit(2, 2.5));
    const second = keyed(a.take());
    expect(second).toMatchObject({ callsByCpu: {}, errors: {}, byProcess: {}, inflight: 0, events: 1 });
    expect(second.durations.mount).toMatchObject({ count: 1, sum: 0.5 });
    expect(keyed(a.take())).toMatchObject({ events: 0, callsByCpu: {}, durations: {} });
  });

  test('merged deltas equal one take over the same events (what the trace thread re-sends after a late answer)', () => {
    const events = [enter(1, 1), exit(1, 1.5), enter(2, 2, 'q'), exit(2, 3, '0xffffffffffffffea'), enter(3, 4)];
    const once = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 10 });
    for (const e of events) once.feed(e);
    const twice = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 10, maxInflight: 10 });
    let merged = twice.take();
    for (const e of events) {
      twice.feed(e);
      merged = mergeDeltas(merged, twice.take());
    }
    expect(keyed(merged)).toEqual(keyed(once.take()));
  });
});
