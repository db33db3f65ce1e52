/**
 * Pure parser for /proc/PID/mountinfo (proc(5), fs/proc_namespace.c:show_mountinfo):
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)       (7)  (8) (9)     (10)        (11)
 *
 * The kernel escapes space, tab, newline and backslash in paths as octal (and also `#` in the source)
 * `\ooo`; super options are written with seq_show_option, which also escapes ',' so a raw split on
 * ',' is safe. A malformed line is reported as a ParseError naming it and skipped: one bad line never
 * hides the rest of the table.
 */
import { ParseError } from '../../errors';

export interface OptionalFields {
  shared?: number;
  master?: number;
  propagateFrom?: number;
  unbindable?: boolean;
}

export interface MountInfo {
  mountId: number;
  parentId: number;
  major: number;
  minor: number;
  /** Root of the mount within its filesystem (a bind of a subdirectory shows that subdirectory). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  optional: OptionalFields;
  fsType: string;
  source: string;
  /** Raw, still escaped: split on ',' and unescape values with `superOptionValue`. */
  superOptions: string;
  /**
   * Mount identity as the first five fields of the raw line (id, parent, device, root, mount
   * point). Mount ids are reused, so the id alone is not an identity across samples.
   */
  identity: string;
}

export interface ParsedMountinfo {
  mounts: MountInfo[];
  errors: ParseError[];
}

/** Reverses the kernel's `\ooo` octal escapes. Text without a backslash is returned as is. */
export function unescapeOctal(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

const DECIMAL = /^\d+$/;

function parseOptional(field: string, into: OptionalFields): boolean {
  if (field === 'unbindable') {
    into.unbindable = true;
    return true;
  }
  const colon = field.indexOf(':');
  if (colon < 0) return false;
  const tag = field.slice(0, colon);
  const value = field.slice(colon + 1);
  if (!DECIMAL.test(value)) return false;
  const n = Number(value);
  switch (tag) {
    case 'shared':
      into.shared = n;
      return true;
    case 'master':
      into.master = n;
      return true;
    case 'propagate_from':
      into.propagateFrom = n;
      return true;
    default:
      // Future kernels may add tags; proc(5) says readers must ignore unknown optional fields.
      return true;
  }
}

/** Parses one line; throws ParseError (with `lineNo`) when the line lacks mountinfo's shape. */
export function parseMountinfoLine(line: string, lineNo: number, source = 'mountinfo'): MountInfo {
  const f = line.split(' ');
  const bad = (reason: string) => new ParseError(source, lineNo, `${reason}: ${JSON.stringify(line.slice(0, 200))}`);
  if (f.length < 10) throw bad(`expected at least 10 fields, found ${f.length}`);
  const [idS, parentS, dev, root, mountPoint, opts] = f as [string, string, string, string, string, string];
  if (!DECIMAL.test(idS) || !DECIMAL.test(parentS)) throw bad('mount id and parent id must be decimal');
  const devColon = dev.indexOf(':');
  const majS = dev.slice(0, devColon);
  const minS = dev.slice(devColon + 1);
  if (devColon < 0 || !DECIMAL.test(majS) || !DECIMAL.test(minS)) throw bad(`bad major:minor ${JSON.stringify(dev)}`);
  if (root === '' || mountPoint === '') throw bad('empty root or mount point');
  const optional: OptionalFields = {};
  let i = 6;
  for (; i < f.length && f[i] !== '-'; i++) {
    if (!parseOptional(f[i] as string, optional)) throw bad(`bad optional field ${JSON.stringify(f[i])}`);
  }
  if (i >= f.length) throw bad("missing '-' separator");
  if (f.length - i - 1 !== 3) throw bad(`expected 3 fields after '-', found ${f.length - i - 1}`);
  const fsType = f[i + 1] as string;
  if (fsType === '') throw bad('empty filesystem type');
  const n1 = idS.length + 1 + parentS.length + 1 + dev.length + 1 + root.length + 1 + mountPoint.length;
  return {
    mountId: Number(idS),
    parentId: Number(parentS),
    major: Number(majS),
    minor: Number(minS),
    root: unescapeOctal(root),
    mountPoint: unescapeOctal(mountPoint),
    mountOptions: opts.split(','),
    optional,
    fsType: unescapeOctal(fsType),
    source: unescapeOctal(f[i + 2] as string),
    superOptions: f[i + 3] as string,
    identity: line.slice(0, n1),
  };
}

/** Calls `f` with the bounds [start, end) and 1-based number of every non-empty line of `text`. */
function forEachLine(text: string, f: (start: number, end: number, lineNo: number) => void): void {
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    if (end > start) f(start, end, lineNo);
    start = end + 1;
  }
}

export function parseMountinfo(text: string, source = 'mountinfo'): ParsedMountinfo {
  const mounts: MountInfo[] = [];
  const errors: ParseError[] = [];
  forEachLine(text, (start, end, lineNo) => {
    try {
      mounts.push(parseMountinfoLine(text.slice(start, end), lineNo, source));
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      errors.push(err);
    }
  });
  return { mounts, errors };
}

export function isIdmapped(m: MountInfo): boolean {
  return m.mountOptions.includes('idmapped');
}
