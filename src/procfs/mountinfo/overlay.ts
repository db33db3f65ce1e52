/**
 * Overlay's lower layers from its super options (fs/overlayfs/params.c): `lowerdir=` (':'-separated,
 * a literal ':' escaped) and the repeatable `lowerdir+=` of the new mount API, counted without
 * allocating where the mounts collector reads every overlay of a table.
 */
import { unescapeOctal } from './parse';

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
