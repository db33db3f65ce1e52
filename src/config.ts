/**
 * The exporter's one configuration object. Every setting is a flag (node_exporter style
 * `--name=value`), may come from the environment as MOUNTSTORM_<NAME> (dots and dashes become
 * underscores) and from a YAML file (`--config.file`, keys are the flag names). Precedence:
 * flag > environment > file > default. Validated once, then frozen.
 */
import * as fs from 'node:fs';
import * as yaml from 'js-yaml';
import { ConfigError, errorMessage } from './errors';
import { LOG_LEVELS, type LogLevel } from './log';
import { COLLECTORS } from './collectors/definitions';

export interface Config {
  web: { listenAddress: string; telemetryPath: string; maxRequests: number; configFile: string | undefined };
  paths: { procfs: string; sysfs: string; rootfs: string };
  /** PID whose mount namespace is watched ("self" for the exporter's own). */
  mountPid: string;
  sampleIntervalMs: number;
  sampleTimeoutMs: number;
  collectors: Readonly<Record<string, boolean>>;
  probes: { timeoutMs: number; statPath: string | undefined; statBatch: number; baselineWindowMs: number };
  containers: { taskDirs: string[] };
  mounts: { method: 'auto' | 'listmount' | 'mountinfo' };
  tracefs: { path: string | undefined; bufferSizeKb: number; topProcesses: number; format: 'auto' | 'raw' | 'text' };
  logLevel: LogLevel;
  configFile: string | undefined;
}

type Kind = 'string' | 'duration' | 'int' | 'bool' | 'list' | 'path';
type Value = string | number | boolean | string[];

export interface FlagSpec {
  name: string;
  kind: Kind;
  default: Value | undefined;
  help: string;
  /** Extra validation on the parsed value; returns an error reason or undefined. */
  check?: (v: Value) => string | undefined;
}

const DEFAULT_TASK_DIR = '/run/containerd/io.containerd.runtime.v2.task';

/** Not yet listed on Prometheus's default-port allocation page; chosen from the free exporter range. */
export const DEFAULT_PORT = 9866;

export const FLAGS: FlagSpec[] = [
  { name: 'web.listen-address', kind: 'string', default: `:${DEFAULT_PORT}`, help: 'Address to listen on, host:port (":port" for all interfaces).', check: (v) => (parseListenAddress(String(v)) ? undefined : 'must be host:port or :port') },
  { name: 'web.telemetry-path', kind: 'string', default: '/metrics', help: 'Path under which to expose metrics.', check: (v) => (/^\/[A-Za-z0-9._~\/-]*$/.test(String(v)) && v !== '/' ? undefined : 'must be an absolute URL path other than "/"') },
  { name: 'web.max-requests', kind: 'int', default: 40, help: 'Maximum number of parallel scrape requests; further ones get 503.', check: positive },
  { name: 'web.config.file', kind: 'path', default: undefined, help: 'exporter-toolkit web configuration (tls_server_config, basic_auth_users with bcrypt hashes); re-read when it or its certificate files change.' },
  { name: 'path.procfs', kind: 'path', default: '/proc', help: 'procfs mountpoint.' },
  { name: 'path.sysfs', kind: 'path', default: '/sys', help: 'sysfs mountpoint.' },
  { name: 'path.rootfs', kind: 'path', default: '/', help: "Host root filesystem (the container runtime's state directories are read under it)." },
  { name: 'mount.pid', kind: 'string', default: '1', help: 'PID whose mount namespace is watched, or "self".', check: (v) => (/^(self|[1-9]\d*)$/.test(String(v)) ? undefined : 'must be a positive PID or "self"') },
  { name: 'sample.interval', kind: 'duration', default: 1000, help: 'How often the sampler reads the mount table and runs the probes.', check: (v) => ((v as number) >= 100 ? undefined : 'must be at least 100ms') },
  { name: 'sample.timeout', kind: 'duration', default: 15000, help: 'A collector still running after this long is marked failed for the sample and not restarted until it returns.', check: (v) => ((v as number) >= 50 ? undefined : 'must be at least 50ms') },
  { name: 'collector.probes.timeout', kind: 'duration', default: 10000, help: 'A probe still blocked in the kernel after this long is reported as a stall of this length.', check: (v) => ((v as number) >= 10 ? undefined : 'must be at least 10ms') },
  { name: 'collector.probes.stat-path', kind: 'path', default: undefined, help: 'Path stat()ed by the mount_lock probe; its lookup must cross a mount point (default: <path.procfs>/sys/fs).' },
  { name: 'collector.probes.stat-batch', kind: 'int', default: 32, help: 'stat() calls per mount_lock probe; the probe reports the time per call.', check: positive },
  { name: 'collector.probes.baseline-window', kind: 'duration', default: 1_800_000, help: 'Window over which each probe learns its quiet baseline (its 10th percentile).', check: (v) => ((v as number) >= 10_000 ? undefined : 'must be at least 10s') },
  { name: 'collector.mounts.method', kind: 'string', default: 'auto', help: 'How to read the mount table: listmount (listmount(2) and statmount(2), Linux 6.8+, and 6.11+ for a namespace other than the exporter\'s; exact churn, a fraction of the cost), mountinfo (the text, every kernel), or auto (listmount where it works, else mountinfo).', check: (v) => (['auto', 'listmount', 'mountinfo'].includes(String(v)) ? undefined : 'must be auto, listmount or mountinfo') },
  { name: 'collector.containers.task-dir', kind: 'list', default: [DEFAULT_TASK_DIR], help: 'Runtime task directory (under path.rootfs) whose <namespace>/<container> entries are container starts; repeatable.' },
  { name: 'collector.tracefs.path', kind: 'path', default: undefined, help: 'tracefs mount point (default: <path.sysfs>/kernel/tracing, else <path.sysfs>/kernel/debug/tracing; mounted at the first when no tracefs is mounted).' },
  { name: 'collector.tracefs.buffer-size', kind: 'int', default: 512, help: "Ring buffer per CPU of the exporter's tracefs instance, in KiB; raise it when mountstorm_trace_events_lost_total rises.", check: (v) => ((v as number) >= 16 && (v as number) <= 1 << 20 ? undefined : 'must be between 16 and 1048576 KiB') },
  { name: 'collector.tracefs.format', kind: 'string', default: 'auto', help: 'How trace events are read: raw (the binary per-CPU trace_pipe_raw pages; the kernel does not format them), text (trace_pipe; costs the kernel a printf per event), or auto (raw where its page format is one this reader knows, else text).', check: (v) => (['auto', 'raw', 'text'].includes(String(v)) ? undefined : 'must be auto, raw or text') },
  { name: 'collector.tracefs.top-processes', kind: 'int', default: 10, help: 'Process names given their own series in mountstorm_mount_syscalls_by_process_total (the first seen keep them); the rest are "other".', check: (v) => ((v as number) >= 0 && (v as number) <= 100 ? undefined : 'must be between 0 and 100') },
  { name: 'log.level', kind: 'string', default: 'info', help: `Only log messages with the given severity or above: ${LOG_LEVELS.join(', ')}.`, check: (v) => ((LOG_LEVELS as readonly string[]).includes(String(v)) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`) },
  { name: 'config.file', kind: 'path', default: undefined, help: 'YAML file whose keys are these flag names (without "--").' },
  ...COLLECTORS.map((c): FlagSpec => ({ name: `collector.${c.name}`, kind: 'bool', default: c.defaultEnabled, help: `Enable the ${c.name} collector: ${c.help}` })),
];

function positive(v: Value): string | undefined {
  return (v as number) > 0 ? undefined : 'must be a positive integer';
}

const SPEC = new Map(FLAGS.map((f) => [f.name, f]));

export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s.trim());
  if (!m) return undefined;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * mult);
}

export function parseListenAddress(s: string): { host: string | undefined; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

function coerce(spec: FlagSpec, raw: unknown, origin: string): Value {
  const fail = (why: string) => new ConfigError(`${origin}: ${spec.name}: ${why} (got ${JSON.stringify(raw)})`);
  let v: Value;
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
  values: Map<string, Value>;
  help: boolean;
  version: boolean;
  positionals: string[];
}

/** Parses `--name=value`, `--name value`, `--collector.x` / `--no-collector.x`, `--help`, `--version`. */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[] = FLAGS): ParsedArgs {
  const table = specs === FLAGS ? SPEC : new Map(specs.map((f) => [f.name, f]));
  const values = new Map<string, Value>();
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
    if (spec.kind === 'list') values.set(name, [...((values.get(name) as string[] | undefined) ?? []), ...(v as string[])]);
    else values.set(name, v);
  }
  return { values, help, version, positionals };
}

export function envName(flag: string): string {
  return 'MOUNTSTORM_' + flag.toUpperCase().replace(/[.-]/g, '_');
}

function fromEnv(env: NodeJS.ProcessEnv): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const spec of FLAGS) {
    const raw = env[envName(spec.name)];
    if (raw === undefined) continue;
    out.set(spec.name, coerce(spec, spec.kind === 'list' ? raw.split(',') : raw, `environment ${envName(spec.name)}`));
  }
  return out;
}

export function parseConfigFile(text: string, file: string): Map<string, Value> {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file, schema: yaml.CORE_SCHEMA });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${errorMessage(err)}`, { cause: err });
  }
  const out = new Map<string, Value>();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: must be a mapping of flag names to values`);
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const spec = SPEC.get(key);
    if (!spec || key === 'config.file') throw new ConfigError(`${file}: unknown key "${key}" (keys are flag names without "--", see --help)`);
    out.set(key, coerce(spec, raw, file));
  }
  return out;
}

/** Builds the frozen Config from parsed flags, the environment and the config file they name. */
export function loadConfig(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const envValues = fromEnv(env);
  const file = (args.values.get('config.file') ?? envValues.get('config.file')) as string | undefined;
  let fileValues = new Map<string, Value>();
  if (file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`--config.file: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
    }
    fileValues = parseConfigFile(text, file);
  }
  const get = <T extends Value | undefined>(name: string): T => {
    for (const src of [args.values, envValues, fileValues]) if (src.has(name)) return src.get(name) as T;
    return SPEC.get(name)?.default as T;
  };
  const collectors: Record<string, boolean> = {};
  for (const c of COLLECTORS) collectors[c.name] = get<boolean>(`collector.${c.name}`);
  const config: Config = {
    web: {
      listenAddress: get('web.listen-address'),
      telemetryPath: get('web.telemetry-path'),
      maxRequests: get('web.max-requests'),
      configFile: get('web.config.file'),
    },
    paths: { procfs: get('path.procfs'), sysfs: get('path.sysfs'), rootfs: get('path.rootfs') },
    mountPid: get('mount.pid'),
    sampleIntervalMs: get('sample.interval'),
    sampleTimeoutMs: get('sample.timeout'),
    collectors: Object.freeze(collectors),
    probes: {
      timeoutMs: get('collector.probes.timeout'),
      statPath: get('collector.probes.stat-path'),
      statBatch: get('collector.probes.stat-batch'),
      baselineWindowMs: get('collector.probes.baseline-window'),
    },
    containers: { taskDirs: get('collector.containers.task-dir') },
    mounts: { method: get('collector.mounts.method') as Config['mounts']['method'] },
    tracefs: {
      path: get('collector.tracefs.path'),
      bufferSizeKb: get('collector.tracefs.buffer-size'),
      topProcesses: get('collector.tracefs.top-processes'),
      format: get('collector.tracefs.format') as Config['tracefs']['format'],
    },
    logLevel: get('log.level') as LogLevel,
    configFile: file,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The --help text: every flag with its default, generated from the same table the parser uses. */
export function flagsHelp(specs: readonly FlagSpec[] = FLAGS): string {
  const lines: string[] = [];
  for (const f of specs) {
    const neg = f.kind === 'bool' ? ` / --no-${f.name}` : '';
    let def = '';
    if (f.default !== undefined) {
      const d = f.kind === 'duration' ? formatDuration(f.default as number) : Array.isArray(f.default) ? f.default.join(',') : String(f.default);
      def = ` (default: ${d})`;
    }
    lines.push(`  --${f.name}${f.kind === 'bool' ? '' : '=<' + f.kind + '>'}${neg}\n      ${f.help}${def}`);
  }
  return lines.join('\n');
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
