/**
 * The mounts collector's fast reading of mountinfo lines: a scan for spaces instead of a split and
 * unescape of every field, with parse.ts as the authority for any line the scan does not accept.
 */
import { ParseError } from '../../errors';
import { isIdmapped, parseMountinfoLine, unescapeOctal, type MountInfo } from './parse';

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
