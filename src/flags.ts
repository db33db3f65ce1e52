/**
 * Flags, node_exporter style: `--name=value`, `--name value`, `--collector.x` / `--no-collector.x`,
 * repeatable lists, durations such as `500ms`. Each command (serve, storm, doctor) and each
 * collector declares its flags as FlagSpecs; this module parses, validates and documents them.
 */
import { ConfigError } from './errors';

export type FlagKind = 'string' | 'duration' | 'int' | 'bool' | 'list' | 'path';
export type FlagValue = string | number | boolean | string[];

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  default: FlagValue | undefined;
  help: string;
  /** Extra validation on the parsed value; returns an error reason or undefined. */
  check?: (v: FlagValue) => string | undefined;
}

export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Checks for FlagSpec.check. */
export function positive(v: FlagValue): string | undefined {
  return (v as number) > 0 ? undefined : 'must be a positive integer';
}

export function between(lo: number, hi: number, unit = ''): (v: FlagValue) => string | undefined {
  return (v) => ((v as number) >= lo && (v as number) <= hi ? undefined : `must be between ${lo} and ${hi}${unit}`);
}

/** "must be a, b or c" unless the value is one of `values`. */
export function oneOf(values: readonly string[]): (v: FlagValue) => string | undefined {
  const list =
    values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}` : String(values[0]);
  return (v) => (values.includes(String(v)) ? undefined : `must be ${list}`);
}

/** Turns a raw flag, environment or file value into the spec's kind; a ConfigError naming `origin` otherwise. */
export function coerce(spec: FlagSpec, raw: unknown, origin: string): FlagValue {
  const fail = (why: string) => new ConfigError(`${origin}: ${spec.name}: ${why} (got ${JSON.stringify(raw)})`);
  let v: FlagValue;
  switch (spec.kind) {
    case 'bool':
      if (typeof raw === 'boolean') v = raw;
      else if (raw === 'true' || raw === '1') v = true;
      else if (raw === 'false' || raw === '0') v = false;
      else throw fail('must be true or false');
      break;
    case 'int':
      if (typeof raw === 'number' && Number.isInteger(raw)) v = raw;
      else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) v = Number(raw);
      else throw fail('must be an integer');
      break;
    case 'duration': {
      const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
      if (ms === undefined) throw fail('must be a duration such as 500ms, 1s, 5m');
      v = ms;
      break;
    }
    case 'list':
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string' && x !== '')) v = raw as string[];
      else if (typeof raw === 'string' && raw !== '') v = [raw];
      else throw fail('must be a non-empty string or a list of them');
      break;
    case 'path':
      if (typeof raw !== 'string' || raw === '' || raw.includes('\0')) throw fail('must be a non-empty path');
      v = raw;
      break;
    case 'string':
      if (typeof raw === 'number') raw = String(raw);
      if (typeof raw !== 'string') throw fail('must be a string');
      v = raw;
      break;
  }
  const why = spec.check?.(v);
  if (why) throw fail(why);
  return v;
}

export interface ParsedArgs {
  values: Map<string, FlagValue>;
  help: boolean;
  version: boolean;
  positionals: string[];
}

/** Parses `--name=value`, `--name value`, `--collector.x` / `--no-collector.x`, `--help`, `--version`. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const table = new Map(specs.map((f) => [f.name, f]));
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--version') {
      version = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let raw: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (name.startsWith('no-')) {
      negated = true;
      name = name.slice(3);
    }
    const spec = table.get(name);
    if (!spec) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (spec.kind === 'bool') {
      if (raw === undefined) raw = 'true';
      const b = coerce(spec, raw, 'flag') as boolean;
      values.set(name, negated ? !b : b);
      continue;
    }
    if (negated) throw new ConfigError(`--no-${name}: only boolean flags can be negated`);
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new ConfigError(`--${name} needs a value`);
    }
    const v = coerce(spec, raw, 'flag');
    if (spec.kind === 'list')
      values.set(name, [...((values.get(name) as string[] | undefined) ?? []), ...(v as string[])]);
    else values.set(name, v);
  }
  return { values, help, version, positionals };
}

/** A flag's value from the parsed command line, else its default. */
export function flagValue<T extends FlagValue | undefined>(
  args: ParsedArgs,
  specs: readonly FlagSpec[],
  name: string,
): T {
  if (args.values.has(name)) return args.values.get(name) as T;
  const spec = specs.find((f) => f.name === name);
  if (!spec) throw new Error(`no flag ${name}`);
  return spec.default as T;
}

/** The --help text: every flag with its default, generated from the same specs the parser uses. */
export function flagsHelp(specs: readonly FlagSpec[]): string {
  const lines: string[] = [];
  for (const f of specs) {
    const neg = f.kind === 'bool' ? ` / --no-${f.name}` : '';
    let def = '';
    if (f.default !== undefined) {
      const d =
        f.kind === 'duration'
          ? formatDuration(f.default as number)
          : Array.isArray(f.default)
            ? f.default.join(',')
            : String(f.default);
      def = ` (default: ${d})`;
    }
    lines.push(`  --${f.name}${f.kind === 'bool' ? '' : '=<' + f.kind + '>'}${neg}\n      ${f.help}${def}`);
  }
  return lines.join('\n');
}
