/** Task names for trace records: the trace's own events first, /proc only where its PIDs are the ones trace events carry. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInitialPidNamespace, TaskNames } from '../../src/sources/tracefs/names';

const INIT = 'pid:[4026531836]';

/** A procfs tree: `self/ns/pid` links to `ns`, and a comm file per task. */
function fakeProcfs(root: string, ns: string, comms: Record<number, string>): string {
  const dir = path.join(root, 'proc');
  fs.mkdirSync(path.join(dir, 'self', 'ns'), { recursive: true });
  fs.symlinkSync(ns, path.join(dir, 'self', 'ns', 'pid'));
  for (const [tid, comm] of Object.entries(comms)) {
    fs.mkdirSync(path.join(dir, tid));
    fs.writeFileSync(path.join(dir, tid, 'comm'), `${comm}\n`);
  }
  return dir;
}

describe('task names', () => {
  let root: string;
  let tracefs: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-names-'));
    tracefs = path.join(root, 'tracing');
    fs.mkdirSync(tracefs);
    fs.writeFileSync(path.join(tracefs, 'saved_cmdlines'), '10 containerd\n11 old-name\n12 runc:[2:INIT]\n');
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('a live task by its /proc comm (its name now, over the cache), a gone one from saved_cmdlines, else none', () => {
    const names = new TaskNames(fakeProcfs(root, INIT, { 11: 'new-name', 20: 'kubelet' }), tracefs, true);
    expect(names.procfsUsable).toBe(true);
    expect(names.resolve(11)).toBe('new-name');
    expect(names.resolve(20)).toBe('kubelet');
    expect(names.resolve(12)).toBe('runc:[2:INIT]');
    expect(names.resolve(99)).toBeUndefined();
  });

  test('a procfs of another PID namespace is never asked: its task 11 is not the traced task 11', () => {
    const names = new TaskNames(
      fakeProcfs(root, 'pid:[4026532999]', { 11: 'someone-else', 20: 'someone-else' }),
      tracefs,
      true,
    );
    expect(names.procfsUsable).toBe(false);
    expect(names.resolve(11)).toBe('old-name');
    expect(names.resolve(20)).toBeUndefined();
  });

  test('no saved_cmdlines for trace_pipe text (the kernel looked there itself), and a missing one is no error', () => {
    const proc = fakeProcfs(root, INIT, { 20: 'kubelet' });
    expect(new TaskNames(proc, tracefs, false).resolve(10)).toBeUndefined();
    fs.rmSync(path.join(tracefs, 'saved_cmdlines'));
    const names = new TaskNames(proc, tracefs, true);
    expect(names.resolve(10)).toBeUndefined();
    expect(names.resolve(20)).toBe('kubelet');
  });

  test('answers, found or not, hold until expire(); an event name() takes effect at once', () => {
    const proc = fakeProcfs(root, INIT, { 20: 'kubelet' });
    const names = new TaskNames(proc, tracefs, true);
    expect(names.resolve(20)).toBe('kubelet');
    expect(names.resolve(30)).toBeUndefined();
    fs.writeFileSync(path.join(proc, '20', 'comm'), 'kubelet-2\n');
    fs.appendFileSync(path.join(tracefs, 'saved_cmdlines'), '30 late\n');
    expect(names.resolve(20)).toBe('kubelet');
    expect(names.resolve(30)).toBeUndefined();
    names.name(31, 'forked');
    expect(names.resolve(31)).toBe('forked');
    names.expire();
    expect(names.resolve(20)).toBe('kubelet-2');
    expect(names.resolve(30)).toBe('late');
  });

  test("an event's name outlives expire(), over what /proc says after an exec, until unused for 30 expiries", () => {
    // Task 20 was forked as "runc" (the event) and has exec'd "sleep" by the time its records are read.
    const proc = fakeProcfs(root, INIT, { 20: 'sleep', 21: 'sleep' });
    const names = new TaskNames(proc, tracefs, true);
    names.name(20, 'runc');
    names.name(21, 'runc');
    for (let i = 0; i < 61; i++) {
      names.expire();
      expect(names.resolve(20)).toBe('runc');
    }
    // 21, never asked again: dropped after two generations of 30, then /proc answers.
    expect(names.resolve(21)).toBe('sleep');
    names.name(20, 'sleep');
    expect(names.resolve(20)).toBe('sleep');
  });

  test('a fork storm ages event names by count: at most two generations of 16,384 tasks are kept', () => {
    const names = new TaskNames(fakeProcfs(root, INIT, {}), tracefs, true);
    for (let tid = 1000; tid < 1000 + 3 * 16_384; tid++) names.name(tid, `t${tid}`);
    expect(names.resolve(1000)).toBeUndefined();
    expect(names.resolve(1000 + 16_384)).toBe(`t${1000 + 16_384}`);
    expect(names.resolve(1000 + 3 * 16_384 - 1)).toBe(`t${1000 + 3 * 16_384 - 1}`);
  });

  test("eventName() answers from the events alone (trace_pipe's text has a name of its own for the rest)", () => {
    const names = new TaskNames(fakeProcfs(root, INIT, { 20: 'sleep', 21: 'kubelet' }), tracefs, false);
    names.name(20, 'runc');
    expect(names.eventName(20)).toBe('runc');
    expect(names.eventName(21)).toBeUndefined();
    // Asking keeps a name of the generation before.
    for (let i = 0; i < 30; i++) names.expire();
    expect(names.eventName(20)).toBe('runc');
    for (let i = 0; i < 30; i++) names.expire();
    expect(names.eventName(20)).toBe('runc');
  });

  test("clear() forgets the events' names too (disarmed, nothing records an exec)", () => {
    const names = new TaskNames(fakeProcfs(root, INIT, { 20: 'sleep' }), tracefs, true);
    names.name(20, 'runc');
    names.clear();
    expect(names.resolve(20)).toBe('sleep');
  });

  test('an unreadable procfs counts as another namespace', () => {
    expect(isInitialPidNamespace(path.join(root, 'nowhere'))).toBe(false);
  });
});
