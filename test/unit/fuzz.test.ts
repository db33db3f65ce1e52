/**
 * Property-based fuzzing (fast-check) of every parser of outside input: whatever the bytes, only a
 * typed ParseError / ConfigError escapes, and the invariants hold.
 */
import * as fc from 'fast-check';
import { parseConfigFile } from '../../src/config';
import { ConfigError, ParseError } from '../../src/errors';
import { LATENCY_BUCKETS } from '../../src/exposition';

import { parseProcStat } from '../../src/procfs/stat';
import { parseCpuList } from '../../src/sysfs/cpulist';
import { TraceAggregator } from '../../src/sources/tracefs/aggregator';
import { keyed, Totals } from '../support/trace-totals';
import { parseTraceLine } from '../../src/sources/tracefs/trace-pipe';
import { parseWebConfig } from '../../src/web/config';
import { escapePath } from '../support/mountinfo-escape';
import { isIdmapped, parseMountinfo, parseMountinfoLine, unescapeOctal } from '../../src/procfs/mountinfo/parse';
import { newMountFacts, scanMountinfoLine, type MountFacts } from '../../src/procfs/mountinfo/scan';

const RUNS = { numRuns: 2000 };
/** Runs f; anything thrown must be an instance of one of the allowed classes. */
function onlyThrows(allowed: Array<new (...a: never[]) => Error>, f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!allowed.some((c) => err instanceof c)) throw err;
  }
}

// Text that looks like kernel output often enough to reach deep branches: digits, separators,
// escapes, colons, dashes and arbitrary unicode.
const kernelish = fc.stringMatching(/^[0-9a-z :\-\\/,._=()[\]|#\t]{0,120}$/);
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), kernelish);

describe('mountinfo', () => {
  test('any text: only ParseErrors, entries + errors = non-empty lines', () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 20 }), (lines) => {
        const text = lines.join('\n');
        const parsed = parseMountinfo(text);
        const nonEmpty = text.split('\n').filter((l) => l !== '').length;
        expect(parsed.mounts.length + parsed.errors.length).toBe(nonEmpty);
        for (const e of parsed.errors) expect(e).toBeInstanceOf(ParseError);
      }),
      RUNS,
    );
  });

  test('escapes round-trip: any path the kernel escapes unescapes to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (s) => expect(unescapeOctal(escapePath(s))).toBe(s)),
      RUNS,
    );
  });

  /** scanMountinfoLine (the collector's lean reader) must give exactly what parseMountinfo gives, line by line. */
  const sameAsParser = (text: string) => {
    const scanned: Array<
      Pick<MountFacts, 'mountId' | 'fsType' | 'idmapped'> & { identity: string; superOptions: string }
    > = [];
    const errors: ParseError[] = [];
    const m = newMountFacts();
    let start = 0;
    text.split('\n').forEach((line, i) => {
      const end = start + line.length;
      const err = line ? scanMountinfoLine(text, start, end, i + 1, 'fuzz', m) : undefined;
      if (err) errors.push(err);
      else if (line)
        scanned.push({
          mountId: m.mountId,
          identity: text.slice(m.start, m.identityEnd),
          fsType: m.fsType,
          idmapped: m.idmapped,
          superOptions: text.slice(m.superStart, m.superEnd),
        });
      start = end + 1;
    });
    const parsed = parseMountinfo(text, 'fuzz');
    expect(scanned).toEqual(
      parsed.mounts.map((m) => ({
        mountId: m.mountId,
        identity: m.identity,
        fsType: m.fsType,
        idmapped: isIdmapped(m),
        superOptions: m.superOptions,
      })),
    );
    expect(errors.map((e) => e.message)).toEqual(parsed.errors.map((e) => e.message));
  };
  const mountLine = fc
    .tuple(
      fc.nat(1e6),
      fc.nat(1e6),
      fc.constantFrom('0:42', '254:0', '0:', ':1', 'x:1', '1:2:3'),
      fc.constantFrom('/', '/a\\040b', '', '/r'),
      fc.constantFrom('/m', '/x\\134y', ''),
      fc.constantFrom('rw,relatime', 'rw,idmapped', 'idmapped', 'ro,noidmapped', 'rw,idmapped,nosuid', 'idmappedx', ''),
      fc.constantFrom(
        '',
        ' shared:1',
        ' master:2 propagate_from:3',
        ' unbindable',
        ' future:7',
        ' shared:',
        ' bogus',
        ' -',
      ),
      fc.constantFrom(
        ' - tmpfs src rw',
        ' - overlay overlay rw,lowerdir=/a:/b',
        ' - fuse.sshfs a@b rw',
        ' - tmp\\040fs s rw',
        ' -  s rw',
        ' - t s',
        ' - t s rw extra',
        ' - t  rw',
        ' - t s ',
      ),
    )
    .map(
      ([id, parent, dev, root, mp, opts, optional, tail]) =>
        `${id} ${parent} ${dev} ${root} ${mp} ${opts}${optional}${tail}`,
    );
  test('the lean scanner agrees with the parser on well-formed and near-miss lines', () => {
    fc.assert(
      fc.property(fc.array(mountLine, { maxLength: 12 }), (lines) => sameAsParser(lines.join('\n'))),
      RUNS,
    );
  });
  test('the lean scanner agrees with the parser on any text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(anyText, mountLine), { maxLength: 20 }), (lines) => sameAsParser(lines.join('\n'))),
      RUNS,
    );
  });

  const field = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map((s) => '/' + s);
  test('a well-formed line built from any paths parses back to them', () => {
    fc.assert(
      fc.property(
        fc.nat(1e6),
        fc.nat(1e6),
        field,
        field,
        field,
        fc.constantFrom('', ' shared:1', ' master:2 propagate_from:3', ' unbindable'),
        (id, parent, root, mp, src, optional) => {
          const line = `${id} ${parent} 0:42 ${escapePath(root)} ${escapePath(mp)} rw,relatime${optional} - tmpfs ${escapePath(src)} rw,size=1k`;
          const m = parseMountinfoLine(line, 1);
          expect([m.mountId, m.parentId, m.root, m.mountPoint, m.source, m.fsType]).toEqual([
            id,
            parent,
            root,
            mp,
            src,
            'tmpfs',
          ]);
        },
      ),
      RUNS,
    );
  });
});

describe('/proc/stat, cpu lists', () => {
  test('/proc/stat: any text gives a result or a ParseError', () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 10 }), (lines) =>
        onlyThrows([ParseError], () => parseProcStat(lines.join('\n'))),
      ),
      RUNS,
    );
  });

  test('cpu lists: any text gives CPUs or a ParseError; any set of CPUs round-trips through its range form', () => {
    fc.assert(
      fc.property(anyText, (s) => onlyThrows([ParseError], () => parseCpuList(s))),
      RUNS,
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(4096), { maxLength: 64 }), (cpus) => {
        const sorted = [...cpus].sort((a, b) => a - b);
        const ranges: string[] = [];
        for (let i = 0; i < sorted.length;) {
          let j = i;
          while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
          ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
          i = j + 1;
        }
        expect(parseCpuList(ranges.join(',') + '\n')).toEqual(sorted);
      }),
      RUNS,
    );
  });
});

describe('tracefs', () => {
  test('trace_pipe lines: any text is an event or a ParseError', () => {
    fc.assert(
      fc.property(anyText, (s) => onlyThrows([ParseError], () => parseTraceLine(s))),
      RUNS,
    );
  });

  test('the aggregator takes any chunks without throwing; no take is negative, and the takes add up to one take of the same chunks', () => {
    const validLine = fc
      .tuple(
        fc.constantFrom('mount', 'umount', 'open_tree', 'unshare'),
        fc.nat(50),
        fc.nat(3),
        fc.boolean(),
        fc.nat(1000),
      )
      .map(
        ([sys, tid, cpu, enter, t]) =>
          `  p-${tid} [00${cpu}] ..... ${(t / 1000).toFixed(6)}: ${enter ? `sys_${sys}(x: 0)` : `sys_${sys} -> 0x0`}\n`,
      );
    fc.assert(
      fc.property(fc.array(fc.oneof(anyText, validLine), { maxLength: 50 }), (chunks) => {
        const a = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 3, maxInflight: 8 });
        const whole = new TraceAggregator({ buckets: LATENCY_BUCKETS, topProcesses: 3, maxInflight: 8 });
        const totals = new Totals(a);
        let t = totals.take();
        for (const c of chunks) {
          a.feed(c);
          whole.feed(c);
          const d = a.take();
          for (const x of [...d.calls, ...d.errors, ...d.byProcess]) expect(x.count).toBeGreaterThan(0);
          for (const x of d.durations) for (const n of x.counts) expect(n).toBeGreaterThanOrEqual(0);
          totals.add(d);
          t = totals.current();
          expect(t.inflight).toBeLessThanOrEqual(8);
          expect(Object.keys(t.byProcess).length).toBeLessThanOrEqual(4);
        }
        expect(t).toEqual(keyed(whole.take()));
      }),
      { numRuns: 500 },
    );
  });
});

describe('configuration files', () => {
  const yamlish = fc.oneof(
    anyText,
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc
      .dictionary(
        fc.constantFrom(
          'sample.interval',
          'web.listen-address',
          'collector.cpu',
          'mount.pid',
          'nope',
          'collector.containers.task-dir',
        ),
        fc.jsonValue(),
      )
      .map((d) => JSON.stringify(d)),
  );
  test('--config.file: any text gives settings or a ConfigError', () => {
    fc.assert(
      fc.property(yamlish, (s) => onlyThrows([ConfigError], () => parseConfigFile(s, 'fuzz.yml'))),
      RUNS,
    );
  });

  test('--web.config.file: any text gives a config or a ConfigError', () => {
    const web = fc
      .dictionary(
        fc.constantFrom('tls_server_config', 'basic_auth_users', 'http_server_config', 'other'),
        fc.jsonValue(),
      )
      .map((d) => JSON.stringify(d));
    fc.assert(
      fc.property(fc.oneof(yamlish, web), (s) =>
        onlyThrows([ConfigError], () => parseWebConfig(s, '/nonexistent/web.yml')),
      ),
      RUNS,
    );
  });
});
