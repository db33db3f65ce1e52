import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MountinfoTable } from '../../src/mounttable/mountinfo';

/** The text method over files: churn by identity whatever the ids (dense, grown, or beyond the dense range). */
describe('MountinfoTable over a mountinfo file', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-table-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const line = (id: number, mp: string, type = 'tmpfs', opts = 'rw,relatime', superOpts = 'rw') => `${id} 1 0:${id % 200} / ${mp} ${opts} shared:1 - ${type} src ${superOpts}`;

  test('added, removed and replaced entries; types counted across runs; overlays and idmapped', () => {
    const file = path.join(dir, 'mountinfo');
    const overlay = (id: number, mp: string) => line(id, mp, 'overlay', 'rw,idmapped', 'rw,lowerdir=/l1:/l2:/l3,upperdir=/u,workdir=/w');
    fs.writeFileSync(file, [line(5, '/a'), line(70_000, '/grown'), line(3_000_000, '/sparse', 'ext4'), overlay(7, '/o1'), line(8, '/b', 'tmpfs', 'rw,idmapped'), ''].join('\n'));
    const t = new MountinfoTable(file);
    const first = t.sample();
    expect(first).toMatchObject({ added: 0, removed: 0, overlays: 1, layers: 3, idmapped: 2, parseErrors: 0 });
    expect(first.byType).toEqual(new Map([['tmpfs', 3], ['ext4', 1], ['overlay', 1]]));

    // 5 gone; 70000 now names another mount point (the id was reused); 6 and a second overlay new.
    fs.writeFileSync(file, [line(70_000, '/other'), line(3_000_000, '/sparse', 'ext4'), overlay(7, '/o1'), line(8, '/b', 'tmpfs', 'rw,idmapped'), line(6, '/c'), overlay(9, '/o2'), ''].join('\n'));
    const second = t.sample();
    expect(second).toMatchObject({ added: 3, removed: 2, overlays: 2, layers: 6, idmapped: 3, newOverlayDepths: [3] });
    expect(second.byType).toEqual(new Map([['tmpfs', 3], ['ext4', 1], ['overlay', 2]]));

    // Nothing changed: no churn, the sparse id included.
    expect(t.sample()).toMatchObject({ added: 0, removed: 0 });
  });

  test('a line repeating an id (never the kernel’s) does not make churn negative', () => {
    const file = path.join(dir, 'dup');
    fs.writeFileSync(file, [line(5, '/a'), line(5, '/a'), ''].join('\n'));
    const t = new MountinfoTable(file);
    t.sample();
    fs.writeFileSync(file, [line(5, '/a'), ''].join('\n'));
    const s = t.sample();
    expect(s.added).toBeGreaterThanOrEqual(0);
    expect(s.removed).toBeGreaterThanOrEqual(0);
  });
});
