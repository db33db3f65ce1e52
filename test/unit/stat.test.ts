import * as fs from 'node:fs';
import * as path from 'node:path';
import { ParseError } from '../../src/errors';
import { parseCpuModel } from '../../src/procfs/cpuinfo';
import { parseProcStat } from '../../src/procfs/stat';
import { parseCpuList } from '../../src/sysfs/cpulist';
import { readTopology } from '../../src/sysfs/topology';
import { HostPaths } from '../../src/fs/paths';
import { FIXTURES } from '../support/env';

describe('/proc/stat', () => {
  test('this machine', () => {
    const s = parseProcStat(fs.readFileSync('/proc/stat', 'utf8'));
    expect(s.cpus.size).toBeGreaterThan(0);
    for (const t of s.cpus.values()) expect(t.idle).toBeGreaterThan(0);
  });

  test('fixture: 96 CPUs, the aggregate line ignored', () => {
    const s = parseProcStat(fs.readFileSync(path.join(FIXTURES, 'proc/stat'), 'utf8'));
    expect(s.cpus.size).toBe(96);
    expect(s.cpus.get(95)).toEqual({
      user: 1095,
      nice: 105,
      system: 690,
      idle: 90095,
      iowait: 115,
      irq: 0,
      softirq: 100,
      steal: 0,
    });
  });

  test('old kernels with four counters leave the rest absent, not 0', () => {
    const s = parseProcStat('cpu  1 2 3 4\ncpu0 1 2 3 4\n');
    expect(s.cpus.get(0)).toEqual({ user: 1, nice: 2, system: 3, idle: 4 });
  });

  test.each([['cpuX 1 2 3 4'], ['cpu0 1 2 x 4'], ['cpu0 1 2'], ['intr 1']])('%j is a ParseError', (t) => {
    expect(() => parseProcStat(t, 'stat')).toThrow(ParseError);
  });
});

describe('cpu lists and topology', () => {
  test.each([
    ['0', [0]],
    ['0-3', [0, 1, 2, 3]],
    ['0-1,8-9\n', [0, 1, 8, 9]],
    ['', []],
  ])('%j', (s, want) => expect(parseCpuList(s)).toEqual(want));

  test.each([['0-'], ['a'], ['3-1'], ['0,,1']])('%j is a ParseError', (s) =>
    expect(() => parseCpuList(s)).toThrow(ParseError),
  );

  test('dual-socket SMT fixture: 2 sockets, 2 NUMA nodes, SMT on, siblings on the same socket', async () => {
    const t = await readTopology(new HostPaths(path.join(FIXTURES, 'proc'), path.join(FIXTURES, 'sys')));
    expect(t.cpus.size).toBe(96);
    expect(t.sockets).toBe(2);
    expect(t.numaNodes).toBe(2);
    expect(t.smt).toBe(true);
    expect(t.cpus.get(0)).toEqual({ socket: '0', numaNode: '0' });
    expect(t.cpus.get(24)).toEqual({ socket: '1', numaNode: '1' });
    expect(t.cpus.get(48)).toEqual({ socket: '0', numaNode: '0' });
    expect(t.cpus.get(95)).toEqual({ socket: '1', numaNode: '1' });
  });

  test('sysfs without topology or NUMA: CPUs are placed in "unknown" socket and node 0', async () => {
    const dir = fs.mkdtempSync('/tmp/mountstorm-sys-');
    try {
      fs.mkdirSync(path.join(dir, 'devices/system/cpu/cpu0'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'devices/system/cpu/cpu1'), { recursive: true });
      const t = await readTopology(new HostPaths('/proc', dir));
      expect(t.cpus.get(1)).toEqual({ socket: 'unknown', numaNode: '0' });
      expect(t.sockets).toBe(0);
      expect(t.smt).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  test('this machine', async () => {
    const t = await readTopology(new HostPaths());
    expect(t.cpus.size).toBeGreaterThan(0);
    expect(t.sockets).toBeGreaterThanOrEqual(1);
  });

  test('cpu model', () => {
    expect(parseCpuModel(fs.readFileSync(path.join(FIXTURES, 'proc/cpuinfo'), 'utf8'))).toBe(
      'Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz',
    );
    expect(parseCpuModel('processor : 0\nvendor : x\n')).toBeUndefined();
  });
});
