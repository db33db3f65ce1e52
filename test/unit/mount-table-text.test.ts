import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { MountinfoTable } from '../../src/sources/mount-table/text-reader';
import type { TableSample } from '../../src/sources/mount-table/reading';
import { isIdmapped, parseMountinfo } from '../../src/procfs/mountinfo/parse';
import { overlayLowerLayers } from '../../src/procfs/mountinfo/overlay';

/** The text method over files: churn by identity whatever the ids (dense, grown, or beyond the dense range). */
describe('MountinfoTable over a mountinfo file', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-table-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const line = (id: number, mp: string, type = 'tmpfs', opts = 'rw,relatime', superOpts = 'rw') =>
    `${id} 1 0:${id % 200} / ${mp} ${opts} shared:1 - ${type} src ${superOpts}`;

  test('added, removed and replaced entries; types counted across runs; overlays and idmapped', () => {
    const file = path.join(dir, 'mountinfo');
    const overlay = (id: number, mp: string) =>
      line(id, mp, 'overlay', 'rw,idmapped', 'rw,lowerdir=/l1:/l2:/l3,upperdir=/u,workdir=/w');
    fs.writeFileSync(
      file,
      [
        line(5, '/a'),
        line(70_000, '/grown'),
        line(3_000_000, '/sparse', 'ext4'),
        overlay(7, '/o1'),
        line(8, '/b', 'tmpfs', 'rw,idmapped'),
        '',
      ].join('\n'),
    );
    const t = new MountinfoTable(file);
    const first = t.sample();
    expect(first).toMatchObject({ added: 0, removed: 0, overlays: 1, layers: 3, idmapped: 2, parseErrors: 0 });
    expect(first.byType).toEqual(
      new Map([
        ['tmpfs', 3],
        ['ext4', 1],
        ['overlay', 1],
      ]),
    );

    // 5 gone; 70000 now names another mount point (the id was reused); 6 and a second overlay new.
    fs.writeFileSync(
      file,
      [
        line(70_000, '/other'),
        line(3_000_000, '/sparse', 'ext4'),
        overlay(7, '/o1'),
        line(8, '/b', 'tmpfs', 'rw,idmapped'),
        line(6, '/c'),
        overlay(9, '/o2'),
        '',
      ].join('\n'),
    );
    const second = t.sample();
    expect(second).toMatchObject({ added: 3, removed: 2, overlays: 2, layers: 6, idmapped: 3, newOverlayDepths: [3] });
    expect(second.byType).toEqual(
      new Map([
        ['tmpfs', 3],
        ['ext4', 1],
        ['overlay', 2],
      ]),
    );

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
    // The same identity twice is one mount: /a stayed, nothing came or went (and never -1 of either).
    expect({ added: s.added, removed: s.removed }).toEqual({ added: 0, removed: 0 });
  });

  test('mount points that are not ASCII, or not UTF-8: identities compared as bytes', () => {
    const file = path.join(dir, 'bytes');
    const write = (mp: Buffer, opts: string) =>
      fs.writeFileSync(
        file,
        Buffer.concat([Buffer.from(`${line(4, '/ok')}\n5 1 0:5 / /x`), mp, Buffer.from(` ${opts} - tmpfs src rw\n`)]),
      );
    for (const [a, b] of [
      [Buffer.from([0xff]), Buffer.from([0xfe])], // each decodes to the same U+FFFD
      [Buffer.from('\u00e9t\u00e9'), Buffer.from('\u00e9t\u00e8')],
      [Buffer.from([0xe6, 0x97]), Buffer.from([0xe6, 0x98])], // cut multi-byte sequences
    ] as const) {
      write(a, 'rw');
      const t = new MountinfoTable(file);
      t.sample();
      expect(t.sample()).toMatchObject({ added: 0, removed: 0, parseErrors: 0 });
      write(a, 'ro'); // options changed, identity not
      expect(t.sample()).toMatchObject({ added: 0, removed: 0 });
      write(b, 'ro'); // another mount point
      expect(t.sample()).toMatchObject({ added: 1, removed: 1 });
    }
  });

  test('a line that ends where a compare block ends, then grows: read again, not taken as it was', () => {
    const file = path.join(dir, 'boundary');
    // The overlay's newline falls at byte 4096 exactly: the first block holds all of the line but its newline.
    const head = line(3, '/a');
    const overlayHead = '4 1 0:4 / /o rw - overlay overlay rw,lowerdir=';
    const pad = 4096 - head.length - 1 - overlayHead.length - '/l2'.length;
    const lowers = `/${'l'.repeat(pad - 2)}:/l2`;
    const before = `${head}\n${overlayHead}${lowers}\n${line(5, '/b')}\n`;
    expect(before.indexOf('\n', head.length + 1)).toBe(4096);
    fs.writeFileSync(file, before);
    const t = new MountinfoTable(file);
    expect(t.sample()).toMatchObject({ layers: 2 });
    fs.writeFileSync(file, `${head}\n${overlayHead}${lowers}:/l3\n${line(5, '/b')}\n`);
    expect(t.sample()).toMatchObject({ layers: 3, added: 0, removed: 0 });
  });

  /**
   * Readings of a changing table agree with the full parser's: each table is the previous one
   * edited (lines removed, added, moved, options or mount point changed, lines that do not parse,
   * lines longer than the reader's 4 KiB compare block), so most of each reading is the last one's
   * bytes, in stretches the reader takes without scanning.
   */
  test('a changing table: every reading equals what the parser makes of the text', () => {
    interface Entry {
      id: number;
      mp: string;
      opts: string;
      type: string;
      superOpts: string;
    }
    const text = (lines: Array<Entry | string>, trailing: boolean) =>
      lines
        .map((e) =>
          typeof e === 'string'
            ? e
            : `${e.id} 1 0:${e.id % 97} / ${e.mp} ${e.opts} shared:${e.id % 5} - ${e.type} src ${e.superOpts}`,
        )
        .join('\n') + (trailing ? '\n' : '');
    const expected = (prev: Map<number, string> | undefined, t: string) => {
      const { mounts, errors } = parseMountinfo(t, file);
      const byType: Record<string, number> = {};
      const ids = new Map<number, string>();
      const s = { overlays: 0, layers: 0, layersMax: 0, idmapped: 0, newOverlayDepths: [] as number[], kept: 0 };
      for (const m of mounts) {
        byType[m.fsType] = (byType[m.fsType] ?? 0) + 1;
        if (isIdmapped(m)) s.idmapped++;
        const same = prev?.get(m.mountId) === m.identity;
        if (same) s.kept++;
        if (m.fsType === 'overlay') {
          const l = overlayLowerLayers(m.superOptions).length;
          s.overlays++;
          s.layers += l;
          s.layersMax = Math.max(s.layersMax, l);
          if (prev && !same) s.newOverlayDepths.push(l);
        }
        ids.set(m.mountId, m.identity);
      }
      const { kept, ...rest } = s;
      return {
        ids,
        sample: {
          ...rest,
          byType,
          added: prev ? ids.size - kept : 0,
          removed: prev ? prev.size - kept : 0,
          parseErrors: errors.length,
          firstParseError: errors[0]?.message,
        },
      };
    };
    const got = (r: TableSample) => ({
      byType: Object.fromEntries(r.byType),
      overlays: r.overlays,
      layers: r.layers,
      layersMax: r.layersMax,
      idmapped: r.idmapped,
      newOverlayDepths: r.newOverlayDepths,
      added: r.added,
      removed: r.removed,
      parseErrors: r.parseErrors,
      firstParseError: r.firstParseError,
    });
    const file = path.join(dir, 'changing');
    const lower = (n: number) =>
      `rw,lowerdir=${Array.from({ length: n }, (_, i) => `/var/lib/layers/${i}/fs`).join(':')},upperdir=/u,workdir=/w`;
    const edit = fc.record({
      kind: fc.constantFrom('remove', 'add', 'move', 'options', 'mountpoint', 'junk', 'long', 'utf8', 'blank'),
      at: fc.nat(),
      to: fc.nat(),
    });
    let nextId = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.array(fc.array(edit, { maxLength: 8 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (size, rounds, trailing) => {
          const entry = (): Entry => {
            const id = nextId++ % 3 === 0 && nextId % 7 === 0 ? (1 << 21) + nextId : 20 + nextId;
            return {
              id,
              mp: `/run/c/${id}/rootfs`,
              opts: id % 3 ? 'rw,relatime' : 'rw,idmapped',
              type: id % 11 === 0 ? 'overlay' : id % 4 ? 'tmpfs' : 'ext4',
              superOpts: id % 11 === 0 ? lower(1 + (id % 9)) : 'rw',
            };
          };
          const lines: Array<Entry | string> = Array.from({ length: size }, entry);
          const t = new MountinfoTable(file);
          fs.writeFileSync(file, text(lines, trailing));
          let prev = expected(undefined, text(lines, trailing));
          expect(got(t.sample())).toEqual(prev.sample);
          for (const edits of rounds) {
            for (const e of edits) {
              const i = lines.length ? e.at % lines.length : 0;
              const x = lines[i];
              const entryAt = typeof x === 'string' ? undefined : x;
              if (e.kind === 'remove') lines.splice(i, 1);
              else if (e.kind === 'add') lines.splice(i, 0, entry());
              else if (e.kind === 'move' && x !== undefined)
                lines.splice(e.to % lines.length, 0, ...lines.splice(i, 1));
              else if (e.kind === 'options' && entryAt)
                lines[i] = {
                  ...entryAt,
                  opts: entryAt.opts === 'ro' ? 'rw' : 'ro',
                  superOpts: entryAt.type === 'overlay' ? lower(1 + (e.to % 90)) : entryAt.superOpts,
                };
              else if (e.kind === 'mountpoint' && entryAt) lines[i] = { ...entryAt, mp: `${entryAt.mp}/${e.to % 3}` };
              else if (e.kind === 'junk') lines.splice(i, 0, `${e.to} not a mountinfo line`);
              else if (e.kind === 'long')
                lines.splice(i, 0, { ...entry(), type: 'overlay', superOpts: lower(100 + (e.to % 50)) });
              else if (e.kind === 'utf8')
                lines.splice(i, 0, { ...entry(), mp: `/run/\u00e9t\u00e9/${e.to % 4}/\u65e5\u672c` });
              else if (e.kind === 'blank') lines.splice(i, 0, '');
            }
            fs.writeFileSync(file, text(lines, trailing));
            const want = expected(prev.ids, text(lines, trailing));
            expect(got(t.sample())).toEqual(want.sample);
            prev = want;
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
