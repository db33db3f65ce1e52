/**
 * The two ways of reading a mount table agree: listmount(2)/statmount(2) and the mountinfo text give
 * the same counts by type, overlay layers, idmapped mounts and churn over real mounts in a private
 * namespace, and listmount's churn stays exact where mountinfo's 32-bit ids are reused. The tables
 * run in this (host-namespace) process against the holder's namespace, so listmount takes the
 * other-namespace path (NS_GET_MNTNS_ID); the exporter tests cover its own namespace.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listmountProbe } from '../../src/kernel/features';
import { MountApi } from '../../src/kernel/mount-api';
import { namespaceIdFor } from '../../src/kernel/nsfs';
import { ListmountTable } from '../../src/sources/mount-table/listmount-reader';
import { MountinfoTable } from '../../src/sources/mount-table/text-reader';
import type { TableSample } from '../../src/sources/mount-table/reading';
import { openTable } from '../../src/sources/mount-table/owner';
import { asNobody, FIXTURES, IS_ROOT, requireInCi, testIf } from '../support/env';

const HAS_LISTMOUNT = IS_ROOT && listmountProbe().available === 'yes';
requireInCi(IS_ROOT, 'root for real mounts');
requireInCi(HAS_LISTMOUNT, 'listmount(2) (Linux 6.8+)');
const kernelTest = testIf(HAS_LISTMOUNT, 'needs root (CAP_SYS_ADMIN) and listmount(2)/statmount(2), Linux 6.8+');
const MUTATE = path.join(__dirname, '../support/table-mutate.js');

/** The parts both methods must agree on. */
function facts(s: TableSample) {
  return {
    byType: Object.fromEntries([...s.byType].sort(([a], [b]) => a.localeCompare(b))),
    overlays: s.overlays,
    layers: s.layers,
    layersMax: s.layersMax,
    idmapped: s.idmapped,
    added: s.added,
    removed: s.removed,
    newOverlayDepths: [...s.newOverlayDepths].sort((a, b) => a - b),
  };
}

describe('listmount and mountinfo read the same table', () => {
  let holder: ChildProcess;
  let dir: string;
  let mountinfo: string;
  let text: MountinfoTable;
  let fast: ListmountTable;
  const mutate = (ops: object[]) =>
    execFileSync('nsenter', ['-t', String(holder.pid), '-m', '--', process.execPath, MUTATE, JSON.stringify(ops)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const lines = () => fs.readFileSync(mountinfo, 'utf8').trim().split('\n').length;
  const both = () => ({ text: text.sample(), fast: fast.sample() });

  beforeAll(async () => {
    if (!HAS_LISTMOUNT) return;
    dir = fs.mkdtempSync('/tmp/mountstorm-table-');
    holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
    const ours = fs.readlinkSync('/proc/self/ns/mnt');
    for (let i = 0; i < 500 && fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`) === ours; i++)
      await new Promise((r) => setTimeout(r, 10));
    mountinfo = `/proc/${holder.pid}/mountinfo`;
    mutate([{ op: 'tmpfs', at: dir }]);
    text = new MountinfoTable(mountinfo);
    fast = new ListmountTable(new MountApi(namespaceIdFor(mountinfo)));
  });
  afterAll(() => {
    holder?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  kernelTest('another namespace is listed by its id, not as our own', () => {
    expect(namespaceIdFor(mountinfo)).not.toBe(0n);
    expect(namespaceIdFor('/proc/self/mountinfo')).toBe(0n);
  });

  kernelTest('first reading: the same counts, and their sum is the mountinfo line count', () => {
    const { text: t, fast: f } = both();
    expect(facts(f)).toEqual(facts(t));
    expect([...f.byType.values()].reduce((a, b) => a + b, 0)).toBe(lines());
    expect(f.added + f.removed).toBe(0);
  });

  kernelTest('added mounts of every kind: identical counts and churn, exactly what was mounted', () => {
    const before = both();
    const ops: object[] = [];
    for (let i = 0; i < 30; i++) ops.push({ op: 'tmpfs', at: `${dir}/t${i}` });
    for (let i = 0; i < 20; i++) ops.push({ op: 'bind', from: `${dir}/t0`, at: `${dir}/b${i}` });
    ops.push({
      op: 'overlay',
      at: `${dir}/o1`,
      lower: [`${dir}/l1`, `${dir}/l2`, `${dir}/l 3`],
      upper: `${dir}/u1`,
      work: `${dir}/w1`,
    });
    ops.push({
      op: 'overlay',
      at: `${dir}/o2`,
      lower: [1, 2, 3, 4, 5].map((i) => `${dir}/m${i}`),
      upper: `${dir}/u2`,
      work: `${dir}/w2`,
    });
    for (let i = 0; i < 4; i++) ops.push({ op: 'idmap', from: `${dir}/t1`, at: `${dir}/i${i}` });
    mutate(ops);
    const { text: t, fast: f } = both();
    expect(facts(f)).toEqual(facts(t));
    expect(f.added).toBe(56);
    expect(f.removed).toBe(0);
    expect(f.newOverlayDepths.sort()).toEqual([3, 5]);
    expect(f.idmapped - before.fast.idmapped).toBe(4);
    expect(f.overlays - before.fast.overlays).toBe(2);
    expect(f.layersMax).toBeGreaterThanOrEqual(5);
    expect((f.byType.get('tmpfs') ?? 0) - (before.fast.byType.get('tmpfs') ?? 0)).toBe(30 + 20 + 4); // binds of a tmpfs are tmpfs
    expect([...f.byType.values()].reduce((a, b) => a + b, 0)).toBe(lines());
  });

  kernelTest('removed mounts: identical churn', () => {
    const ops: object[] = [];
    for (let i = 20; i < 30; i++) ops.push({ op: 'umount', at: `${dir}/t${i}` });
    for (let i = 0; i < 5; i++) ops.push({ op: 'umount', at: `${dir}/b${i}` });
    ops.push({ op: 'umount', at: `${dir}/o2` }, { op: 'umount', at: `${dir}/i0` }, { op: 'umount', at: `${dir}/i1` });
    mutate(ops);
    const { text: t, fast: f } = both();
    expect(facts(f)).toEqual(facts(t));
    expect(f.removed).toBe(18);
    expect(f.added).toBe(0);
  });

  kernelTest('a mount replaced by an identical one: listmount counts it exactly, mountinfo at most', () => {
    both();
    const ops: object[] = [];
    for (let i = 5; i < 20; i++)
      ops.push({ op: 'umount', at: `${dir}/b${i}` }, { op: 'bind', from: `${dir}/t0`, at: `${dir}/b${i}` });
    mutate(ops);
    const { text: t, fast: f } = both();
    expect([f.added, f.removed]).toEqual([15, 15]);
    // mountinfo's ids are reused, and a reused id with the same parent, device and paths is the same line.
    expect(t.added).toBeLessThanOrEqual(15);
    expect(t.added).toBe(t.removed);
    expect(facts({ ...f, added: 0, removed: 0, newOverlayDepths: [] })).toEqual(
      facts({ ...t, added: 0, removed: 0, newOverlayDepths: [] }),
    );
  });

  kernelTest('auto picks listmount on procfs, and falls back to the text (saying why) elsewhere', () => {
    expect(openTable(mountinfo, 'auto').table.method).toBe('listmount');
    expect(openTable(mountinfo, 'mountinfo').table.method).toBe('mountinfo');
    const fixture = path.join(FIXTURES, 'proc/1/mountinfo');
    const fell = openTable(fixture, 'auto');
    expect(fell.table.method).toBe('mountinfo');
    expect(fell.first.fallback).toMatch(/not on procfs/);
    expect(() => openTable(fixture, 'listmount')).toThrow(/not on procfs/);
  });

  kernelTest('without privileges over another namespace, auto reads the text and says why', () => {
    // As the default DaemonSet runs: uid 65534, no capabilities, another process's namespace.
    const owner = path.join(__dirname, '../../src/sources/mount-table/owner.js');
    const script = `const r = require(${JSON.stringify(owner)}).openTable(${JSON.stringify(mountinfo)}, 'auto'); console.log(JSON.stringify({ method: r.table.method, fallback: r.first.fallback, total: [...r.first.byType.values()].reduce((a, b) => a + b, 0) }));`;
    const [cmd, ...args] = asNobody([process.execPath, '-e', script]);
    const out = JSON.parse(execFileSync(cmd as string, args, { encoding: 'utf8' })) as {
      method: string;
      fallback: string;
      total: number;
    };
    expect(out.method).toBe('mountinfo');
    expect(out.fallback).toMatch(/listmount\(2\) not used: .*(EACCES|EPERM|permission denied)/i);
    expect(out.total).toBe(lines());
  });
});
