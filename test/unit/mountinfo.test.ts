import * as fs from 'node:fs';
import * as path from 'node:path';
import { ParseError } from '../../src/errors';

import { FIXTURES } from '../support/env';
import { escapePath } from '../support/mountinfo-escape';
import { overlayLowerLayerCount, overlayLowerLayers, splitLowerdir } from '../../src/procfs/mountinfo/overlay';
import { parseMountinfo, parseMountinfoLine, unescapeOctal } from '../../src/procfs/mountinfo/parse';

// Captured from this kernel by test/fixtures/capture/mountinfo-odd.sh.
const odd = fs.readFileSync(path.join(FIXTURES, 'mountinfo/odd.txt'), 'utf8');
const parsed = parseMountinfo(odd);
const byPoint = (p: string) => {
  const m = parsed.mounts.find((x) => x.mountPoint === `/tmp/mountstorm-capture${p}` || x.mountPoint === p);
  if (!m) throw new Error(`no mount at ${p}`);
  return m;
};

describe('mountinfo parser on a real capture', () => {
  test('every line parses', () => {
    expect(parsed.errors).toEqual([]);
    expect(parsed.mounts).toHaveLength(odd.trim().split('\n').length);
  });

  test.each([
    ['/mp/with space', 'src with space'],
    ['/mp/with\ttab', 'src with\ttab'],
    ['/mp/with\nnewline', 'src with\nnewline'],
    ['/mp/back\\slash', 'src back\\slash'],
    ['/mp/hash#mark', 'src hash#mark'],
    ['/mp/ünïcødé-层', 'src ünïcødé-层'],
    ['/mp/co:lon', 'src co:lon'],
  ])('mount point %j is unescaped, and its source', (mp, source) => {
    const m = byPoint(mp);
    expect(m.source).toBe(source);
    expect(m.fsType).toBe('tmpfs');
  });

  test('optional fields: none, shared, master, shared+master, unbindable, propagate_from', () => {
    expect(byPoint('').optional).toEqual({});
    const shared = byPoint('/prop/shared').optional;
    expect(shared.shared).toBeGreaterThan(0);
    expect(byPoint('/prop/slave').optional).toEqual({ master: shared.shared });
    const both = byPoint('/prop/both').optional;
    expect(both.master).toBe(shared.shared);
    expect(both.shared).toBeGreaterThan(0);
    expect(both.shared).not.toBe(shared.shared);
    expect(byPoint('/prop/unbind').optional).toEqual({ unbindable: true });
    const pf = byPoint('/d').optional;
    expect(pf.master).toBeDefined();
    expect(pf.propagateFrom).toBeDefined();
    expect(pf.propagateFrom).not.toBe(pf.master);
  });

  test('a bind mount of a subdirectory keeps the subdirectory as its root', () => {
    const m = byPoint('/bind');
    expect(m.root).toBe('/data/sub/dir');
    expect(m.major).toBe(byPoint('').major);
    expect(m.minor).toBe(byPoint('').minor);
  });

  test('overlay with 60 lower layers', () => {
    const layers = overlayLowerLayers(byPoint('/ov/merged').superOptions);
    expect(layers).toHaveLength(60);
    expect(layers[0]).toBe('/tmp/mountstorm-capture/ov/l1');
    expect(layers[59]).toBe('/tmp/mountstorm-capture/ov/l60');
  });

  test('read-only overlay without upperdir', () => {
    const m = byPoint('/ro/merged');
    expect(m.superOptions).not.toMatch(/upperdir/);
    expect(overlayLowerLayers(m.superOptions)).toHaveLength(3);
  });

  test('escaped colon (\\134:) and comma (\\134\\054) inside layer paths are not separators', () => {
    const m = byPoint('/esc/merged');
    expect(m.superOptions).toContain('a\\134:b');
    expect(m.superOptions).toContain('c\\134\\054d');
    expect(overlayLowerLayers(m.superOptions)).toEqual([
      '/tmp/mountstorm-capture/esc/a:b',
      '/tmp/mountstorm-capture/esc/c,d',
      '/tmp/mountstorm-capture/esc/plain',
    ]);
  });

  test('new-style lowerdir+= options count one layer each', () => {
    const m = byPoint('/new/merged');
    expect(m.superOptions).toContain('lowerdir+=');
    expect(overlayLowerLayers(m.superOptions)).toHaveLength(4);
  });

  test('identity is the first five raw fields', () => {
    const m = byPoint('/mp/with space');
    expect(m.identity).toMatch(/^\d+ 63 0:\d+ \/ \/tmp\/mountstorm-capture\/mp\/with\\040space$/);
  });
});

describe('mountinfo parser edge cases', () => {
  test('data-only layers (::) are layers; empty segments are not', () => {
    expect(splitLowerdir('/a:/b::/d1::/d2')).toEqual(['/a', '/b', '/d1', '/d2']);
    expect(splitLowerdir('')).toEqual([]);
  });

  test('escapes round-trip', () => {
    for (const s of ['plain', 'a b', 'tab\there', 'nl\nx', 'back\\slash', '\\040 literal', 'ü层']) {
      expect(unescapeOctal(escapePath(s))).toBe(s);
    }
  });

  test.each([
    ['too few fields', '1 2 0:1 / /x rw - tmpfs'],
    ['non-numeric id', 'a 2 0:1 / /x rw - tmpfs t rw'],
    ['bad device', '1 2 01 / /x rw - tmpfs t rw'],
    ['missing separator', '1 2 0:1 / /x rw shared:1 tmpfs t rw extra'],
    ['bad optional field', '1 2 0:1 / /x rw shared:x - tmpfs t rw'],
    ['extra field after separator', '1 2 0:1 / /x rw - tmpfs t rw more'],
  ])('%s is a ParseError naming the line', (_why, line) => {
    expect(() => parseMountinfoLine(line, 7, 'fixture')).toThrow(ParseError);
    expect(() => parseMountinfoLine(line, 7, 'fixture')).toThrow(/^fixture:7: /);
  });

  test('a malformed line is skipped and reported, the rest is kept', () => {
    const text = odd.split('\n').slice(0, 3).join('\n') + '\ngarbage line\n' + odd.split('\n').slice(3).join('\n');
    const r = parseMountinfo(text, 'x');
    expect(r.mounts).toHaveLength(parsed.mounts.length);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]?.line).toBe(4);
  });

  test('unknown optional tags are ignored as proc(5) asks', () => {
    expect(parseMountinfoLine('1 2 0:1 / /x rw future:3 - tmpfs t rw', 1).optional).toEqual({});
  });
});

describe('overlayLowerLayerCount', () => {
  test('counts what overlayLowerLayers lists: the captured overlays, and 20,000 random option strings of escapes, separators and new-style options', () => {
    for (const m of parseMountinfo(fs.readFileSync(path.join(FIXTURES, 'mountinfo/odd.txt'), 'utf8')).mounts) {
      expect(overlayLowerLayerCount(m.superOptions)).toBe(overlayLowerLayers(m.superOptions).length);
    }
    // Deterministic: a small LCG, so a failure reproduces.
    let seed = 12345;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pieces = [
      'a',
      '/x',
      ':',
      '::',
      '\\134',
      '\\134:',
      '\\054',
      '\\134\\054',
      '\\',
      '\\12',
      '\\040',
      'lowerdir=',
      'lowerdir+=',
      'datadir+=',
      ',',
      'upperdir=/u',
      '=',
      'ro',
    ];
    for (let k = 0; k < 20_000; k++) {
      const o = Array.from({ length: rnd(12) }, () => pieces[rnd(pieces.length)]).join('');
      expect([o, overlayLowerLayerCount(o)]).toEqual([o, overlayLowerLayers(o).length]);
    }
    expect(overlayLowerLayerCount('ro,lowerdir=/a:/b::/d1,upperdir=/u,workdir=/w')).toBe(3);
  });
});
