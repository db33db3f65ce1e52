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
import { ParseError } from '../errors';

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

/** The value of super option `name` (unescaped), or undefined. `lowerdir+` may repeat: see all. */
export function superOptionValues(superOptions: string, name: string): string[] {
  const out: string[] = [];
  for (const opt of superOptions.split(',')) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    if (unescapeOctal(key) === name) out.push(eq < 0 ? '' : unescapeOctal(opt.slice(eq + 1)));
  }
  return out;
}

/**
 * Splits an overlay `lowerdir` value into layers. Overlay takes `\` as its own escape inside the
 * option (a literal ':' is written `\:`, a literal ',' `\,`), and mountinfo then octal-escapes that
 * backslash, so `\134:` in the raw text is a colon inside a layer path, never a separator. `::`
 * separates data-only layers (Linux 6.5+); they are layers too.
 */
export function splitLowerdir(value: string): string[] {
  const layers: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
    } else if (c === ':') {
      if (cur !== '') layers.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  if (cur !== '') layers.push(cur);
  return layers;
}

/**
 * Lower layers of an overlay mount from its super options: the legacy colon list in `lowerdir=`, or
 * one layer per `lowerdir+=` / `datadir+=` (Linux 6.7+ prints the new-style options one by one).
 */
export function overlayLowerLayers(superOptions: string): string[] {
  const legacy = superOptionValues(superOptions, 'lowerdir');
  const layers: string[] = [];
  for (const v of legacy) layers.push(...splitLowerdir(v));
  for (const name of ['lowerdir+', 'datadir+']) {
    for (const v of superOptionValues(superOptions, name)) if (v !== '') layers.push(v);
  }
  return layers;
}

const isOctal = (code: number) => code >= 48 && code <= 55;

/**
 * overlayLowerLayers(superOptions).length, without building a string per layer: the readers count
 * the layers of every new overlay, and a 50-layer one's list cost ~30 µs to build here. Raw text:
 * `\ooo` is one octal-escaped character, and a decoded `\` (overlay's own escape) makes the next
 * character literal, never a separator.
 */
export function overlayLowerLayerCount(o: string): number {
  let n = 0;
  for (let i = 0; i < o.length;) {
    let end = o.indexOf(',', i);
    if (end < 0) end = o.length;
    if (o.startsWith('lowerdir=', i)) n += lowerdirSegments(o, i + 9, end);
    else if ((o.startsWith('lowerdir+=', i) && end > i + 10) || (o.startsWith('datadir+=', i) && end > i + 9)) n++;
    i = end + 1;
  }
  return n;
}

/** Non-empty ':'-separated segments of the raw lowerdir value o[s, e). */
function lowerdirSegments(o: string, s: number, e: number): number {
  let n = 0;
  const escape = o.indexOf('\\', s);
  if (escape < 0 || escape >= e) {
    // No escape (the usual case): segments between the colons, found by indexOf.
    for (let from = s; from < e;) {
      let colon = o.indexOf(':', from);
      if (colon < 0 || colon > e) colon = e;
      if (colon > from) n++;
      from = colon + 1;
    }
    return n;
  }
  let inSegment = false;
  let j = s;
  /** The next decoded character's code, advancing j past its raw text. */
  const next = (): number => {
    if (
      o.charCodeAt(j) === 92 &&
      j + 3 < e &&
      isOctal(o.charCodeAt(j + 1)) &&
      isOctal(o.charCodeAt(j + 2)) &&
      isOctal(o.charCodeAt(j + 3))
    ) {
      const code = (o.charCodeAt(j + 1) - 48) * 64 + (o.charCodeAt(j + 2) - 48) * 8 + (o.charCodeAt(j + 3) - 48);
      j += 4;
      return code;
    }
    return o.charCodeAt(j++);
  };
  while (j < e) {
    const c = next();
    if (c === 92 && j < e) {
      next(); // escaped by overlay: part of the path
      inSegment = true;
    } else if (c === 58) {
      if (inSegment) n++;
      inSegment = false;
    } else {
      inSegment = true;
    }
  }
  return inSegment ? n + 1 : n;
}

export function isIdmapped(m: MountInfo): boolean {
  return m.mountOptions.includes('idmapped');
}

/**
 * What the mounts collector needs of one entry (see scanMountinfoLine). Text fields are offsets into the
 * scanned text, so a reading allocates no string per line: identity is text.slice(start,
 * identityEnd) (the first five fields as written: id, parent, device, root, mount point), super
 * options text.slice(superStart, superEnd) (raw, still escaped, as in MountInfo).
 */
export interface MountFacts {
  mountId: number;
  start: number;
  identityEnd: number;
  fsType: string;
  idmapped: boolean;
  superStart: number;
  superEnd: number;
}

function isDigits(t: string, a: number, b: number): boolean {
  if (a >= b) return false;
  for (let i = a; i < b; i++) {
    const c = t.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** An optional field parseOptional accepts: `unbindable`, or `tag:decimal` (unknown tags included). */
function optionalOk(t: string, a: number, b: number): boolean {
  if (b - a === 10 && t.startsWith('unbindable', a)) return true;
  const colon = t.indexOf(':', a);
  return colon >= 0 && colon < b && isDigits(t, colon + 1, b);
}

/** Whether the comma-separated options in t[a, b) include `idmapped` as a whole option. */
function hasIdmapped(t: string, a: number, b: number): boolean {
  // Walks the options by comma: an unbounded indexOf would scan the rest of the table per line.
  for (let i = a; i < b;) {
    let comma = i;
    while (comma < b && t.charCodeAt(comma) !== 44) comma++;
    if (comma - i === 8 && t.startsWith('idmapped', i)) return true;
    i = comma + 1;
  }
  return false;
}

/** The last few filesystem types seen: a table is mostly a handful of types, so most lines allocate none. */
const recentTypes: string[] = [];

/** The filesystem type in t[a, b), unescaped. */
function fsTypeAt(t: string, a: number, b: number): string {
  for (const known of recentTypes) if (known.length === b - a && t.startsWith(known, a)) return known;
  const raw = t.slice(a, b);
  const type = unescapeOctal(raw);
  // Only types that read as written can be matched against the text above.
  if (type === raw) {
    if (recentTypes.length >= 8) recentTypes.pop();
    recentTypes.unshift(type);
  }
  return type;
}

/** The next space in t[from, le), or -1. */
function nextSpace(t: string, from: number, le: number): number {
  const i = t.indexOf(' ', from);
  return i < 0 || i >= le ? -1 : i;
}

/** Scans the line t[ls, le) into `out`; false when it is not plainly well-formed (the full parser decides). */
function scanLine(t: string, ls: number, le: number, out: MountFacts): boolean {
  const next = (from: number): number => nextSpace(t, from, le);
  const s1 = next(ls);
  if (s1 < 0 || !isDigits(t, ls, s1) || s1 - ls > 15) return false;
  const s2 = next(s1 + 1);
  if (s2 < 0 || !isDigits(t, s1 + 1, s2)) return false;
  const s3 = next(s2 + 1);
  if (s3 < 0) return false;
  const colon = t.indexOf(':', s2 + 1);
  if (colon < 0 || colon >= s3 || !isDigits(t, s2 + 1, colon) || !isDigits(t, colon + 1, s3)) return false;
  const s4 = next(s3 + 1);
  if (s4 <= s3 + 1) return false; // root: present and non-empty
  const s5 = next(s4 + 1);
  if (s5 <= s4 + 1) return false; // mount point: present and non-empty
  const s6 = next(s5 + 1);
  if (s6 < 0) return false;
  let p = s6 + 1;
  for (;;) {
    const e = next(p);
    if (e < 0) return false; // no '-' followed by three fields
    if (e === p + 1 && t.charCodeAt(p) === 45) {
      p = e + 1;
      break;
    }
    if (!optionalOk(t, p, e)) return false;
    p = e + 1;
  }
  const b = next(p);
  if (b <= p) return false; // filesystem type: present and non-empty
  const c = next(b + 1);
  if (c < 0 || next(c + 1) >= 0) return false; // exactly source and super options follow
  let id = 0;
  for (let i = ls; i < s1; i++) id = id * 10 + t.charCodeAt(i) - 48;
  out.mountId = id;
  out.start = ls;
  out.identityEnd = s5;
  out.fsType = fsTypeAt(t, p, b);
  out.idmapped = hasIdmapped(t, s5 + 1, s6);
  out.superStart = c + 1;
  out.superEnd = le;
  return true;
}

/**
 * The lean reading of one line, text[start, end), for the mounts collector: its id, where its
 * identity and super options are, its type and idmapped flag, found by scanning for spaces instead of
 * splitting and unescaping every field. A line the scan does not accept goes to parseMountinfoLine,
 * which stays the authority: its ParseError is returned, or its entry given if the scan was only
 * stricter. The fuzz tests hold both to the same answers.
 */
export function scanMountinfoLine(
  text: string,
  start: number,
  end: number,
  lineNo: number,
  source: string,
  facts: MountFacts,
): ParseError | undefined {
  if (scanLine(text, start, end, facts)) return undefined;
  let m: MountInfo;
  try {
    m = parseMountinfoLine(text.slice(start, end), lineNo, source);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    return err;
  }
  // The identity is the line's head and the super options its tail, as the scan would give them.
  facts.mountId = m.mountId;
  facts.start = start;
  facts.identityEnd = start + m.identity.length;
  facts.fsType = m.fsType;
  facts.idmapped = isIdmapped(m);
  facts.superStart = end - m.superOptions.length;
  facts.superEnd = end;
  return undefined;
}

/** A reused MountFacts to scan into. */
export function newMountFacts(): MountFacts {
  return { mountId: 0, start: 0, identityEnd: 0, fsType: '', idmapped: false, superStart: 0, superEnd: 0 };
}
