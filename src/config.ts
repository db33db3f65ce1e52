/**
 * The exporter's one configuration object. Every setting is a flag (node_exporter style
 * `--name=value`, src/flags.ts), may come from the environment as MOUNTSTORM_<NAME> (dots and dashes
 * become underscores) and from a YAML file (`--config.file`, keys are the flag names). Precedence:
 * flag > environment > file > default. Validated once, then frozen. The exporter's own flags are
 * here; each collector declares its own in its file (src/collectors/), and they are gathered here.
 */
import * as os from 'node:os';
import { parseYamlMapping, readSettingsFile } from './yaml-mapping';
import { COLLECTORS } from './collectors/registry';
import { ConfigError, errorMessage } from './errors';
import { coerce, parseArgs as parseFlags, positive, type FlagSpec, type FlagValue, type ParsedArgs } from './flags';
import { LOG_LEVELS, type LogLevel } from './log';
import { parseAlertmanagerUrl } from './notify/config';

export interface Config {
  web: { listenAddress: string; telemetryPath: string; maxRequests: number; configFile: string | undefined };
  paths: { procfs: string; sysfs: string; rootfs: string };
  /** PID whose mount namespace is watched ("self" for the exporter's own). */
  mountPid: string;
  sampleIntervalMs: number;
  sampleTimeoutMs: number;
  /** Which collectors run. */
  collectors: Readonly<Record<string, boolean>>;
  /** Each collector's options, as its definition built them from its flags. */
  collectorOptions: Readonly<Record<string, object>>;
  /** The alert spec's settings for the node's evaluator (thresholds), from --alerts.config.file. */
  alertsConfigFile: string | undefined;
  /** The node's own notifier; off without URLs. */
  alertmanager: {
    urls: readonly string[];
    configFile: string | undefined;
    instance: string;
    labels: Readonly<Record<string, string>>;
    resendMs: number;
  };
  logLevel: LogLevel;
  configFile: string | undefined;
}

/** The `instance` the node's alerts carry: as the DaemonSet sets NODE_NAME from the downward API, else the hostname. */
export function defaultInstance(env: NodeJS.ProcessEnv = process.env): string {
  return env.NODE_NAME && env.NODE_NAME.trim() !== '' ? env.NODE_NAME.trim() : os.hostname();
}

const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$/;
const RESERVED_LABELS = ['alertname', 'severity', 'instance'];

/** Not yet listed on Prometheus's default-port allocation page; chosen from the free exporter range. */
export const DEFAULT_PORT = 9866;

const OWN_FLAGS: FlagSpec[] = [
  {
    name: 'web.listen-address',
    kind: 'string',
    default: `:${DEFAULT_PORT}`,
    help: 'Address to listen on, host:port (":port" for all interfaces).',
    check: (v) => (parseListenAddress(String(v)) ? undefined : 'must be host:port or :port'),
  },
  {
    name: 'web.telemetry-path',
    kind: 'string',
    default: '/metrics',
    help: 'Path under which to expose metrics.',
    check: (v) =>
      /^\/[A-Za-z0-9._~/-]*$/.test(String(v)) && v !== '/' ? undefined : 'must be an absolute URL path other than "/"',
  },
  {
    name: 'web.max-requests',
    kind: 'int',
    default: 40,
    help: 'Maximum number of parallel scrape requests; further ones get 503.',
    check: positive,
  },
  {
    name: 'web.config.file',
    kind: 'path',
    default: undefined,
    help: 'exporter-toolkit web configuration (tls_server_config, basic_auth_users with bcrypt hashes); re-read when it or its certificate files change.',
  },
  { name: 'path.procfs', kind: 'path', default: '/proc', help: 'procfs mountpoint.' },
  { name: 'path.sysfs', kind: 'path', default: '/sys', help: 'sysfs mountpoint.' },
  {
    name: 'path.rootfs',
    kind: 'path',
    default: '/',
    help: "Host root filesystem (the container runtime's state directories are read under it).",
  },
  {
    name: 'mount.pid',
    kind: 'string',
    default: '1',
    help: 'PID whose mount namespace is watched, or "self".',
    check: (v) => (/^(self|[1-9]\d*)$/.test(String(v)) ? undefined : 'must be a positive PID or "self"'),
  },
  {
    name: 'sample.interval',
    kind: 'duration',
    default: 1000,
    help: 'How often the sampler reads the mount table and runs the probes.',
    check: (v) => ((v as number) >= 100 ? undefined : 'must be at least 100ms'),
  },
  {
    name: 'sample.timeout',
    kind: 'duration',
    default: 15000,
    help: 'A collector still running after this long is marked failed until it returns (not restarted meanwhile). A sample after the first waits for a collector at most half the sample interval; one still running then is late: its part comes with a later sample. The first sample waits up to this long, so the first scrape has every series.',
    check: (v) => ((v as number) >= 50 ? undefined : 'must be at least 50ms'),
  },
  {
    name: 'alerts.config.file',
    kind: 'path',
    default: undefined,
    help: "The alert bundle's settings (thresholds, selector, runbook URL; see alerts/README.md) for the exporter's own evaluator; the same file renders the rules (mountstorm render-alerts --config).",
  },
  {
    name: 'alertmanager.url',
    kind: 'list',
    default: [],
    help: "Alertmanager to post the node's own storm alerts to (http:// or https://, with any path prefix); repeatable: every one gets every alert, as Prometheus sends to an HA pair. Off when none is given.",
    check: (v) => {
      for (const u of v as string[]) {
        try {
          parseAlertmanagerUrl(u);
        } catch (err) {
          return errorMessage(err)
            .replace(/^--alertmanager\.url: /, '')
            .replace(/ \(got .*\)$/, '');
        }
      }
      return undefined;
    },
  },
  {
    name: 'alertmanager.config.file',
    kind: 'path',
    default: undefined,
    help: 'How to reach the Alertmanagers: timeout, tls_config (CA, client certificate), basic_auth, authorization or bearer_token_file, as in Prometheus; re-read when it or its files change.',
  },
  {
    name: 'alertmanager.instance',
    kind: 'string',
    default: undefined,
    help: "The instance label of the node's alerts: the one the Prometheus rule would give this node (default: $NODE_NAME, else the hostname).",
    check: (v) =>
      String(v).trim() !== '' && !/[\r\n]/.test(String(v)) ? undefined : 'must be a non-empty single line',
  },
  {
    name: 'alertmanager.label',
    kind: 'list',
    default: [],
    help: "A name=value label on every alert the node posts (Prometheus's external_labels, so both paths' alerts carry the same set); repeatable.",
    check: (v) => {
      for (const l of v as string[]) {
        const m = LABEL.exec(l);
        if (!m) return `"${l}" is not name=value with a Prometheus label name`;
        if (RESERVED_LABELS.includes(m[1] as string)) return `${m[1]} is set by the alert itself`;
      }
      return undefined;
    },
  },
  {
    name: 'alertmanager.resend-interval',
    kind: 'duration',
    default: 5000,
    help: 'How often a firing alert is posted again; its endsAt is four of these ahead, so an exporter that dies lets the alert resolve.',
    check: (v) => ((v as number) >= 1000 && (v as number) <= 600_000 ? undefined : 'must be between 1s and 10m'),
  },
  {
    name: 'log.level',
    kind: 'string',
    default: 'info',
    help: `Only log messages with the given severity or above: ${LOG_LEVELS.join(', ')}.`,
    check: (v) =>
      (LOG_LEVELS as readonly string[]).includes(String(v)) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`,
  },
  {
    name: 'config.file',
    kind: 'path',
    default: undefined,
    help: 'YAML file whose keys are these flag names (without "--").',
  },
];

/** The flags of each collector, under `collector.<name>.`, after its on/off flag. */
const COLLECTOR_FLAGS: FlagSpec[] = COLLECTORS.flatMap((c) => [
  {
    name: `collector.${c.name}`,
    kind: 'bool' as const,
    default: c.defaultEnabled,
    help: `Enable the ${c.name} collector: ${c.help}`,
  },
  ...c.flags.map((f) => ({ ...f, name: `collector.${c.name}.${f.name}` })),
]);

/** Every flag of `mountstorm serve`. */
export const FLAGS: readonly FlagSpec[] = [...OWN_FLAGS, ...COLLECTOR_FLAGS];

const SPEC = new Map(FLAGS.map((f) => [f.name, f]));

export function parseListenAddress(s: string): { host: string | undefined; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** The command line of `mountstorm serve`. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  return parseFlags(argv, FLAGS);
}

export function envName(flag: string): string {
  return 'MOUNTSTORM_' + flag.toUpperCase().replace(/[.-]/g, '_');
}

function fromEnv(env: NodeJS.ProcessEnv): Map<string, FlagValue> {
  const out = new Map<string, FlagValue>();
  for (const spec of FLAGS) {
    const raw = env[envName(spec.name)];
    if (raw === undefined) continue;
    out.set(spec.name, coerce(spec, spec.kind === 'list' ? raw.split(',') : raw, `environment ${envName(spec.name)}`));
  }
  return out;
}

export function parseConfigFile(text: string, file: string): Map<string, FlagValue> {
  const { doc } = parseYamlMapping(text, file, 'a mapping of flag names to values');
  const out = new Map<string, FlagValue>();
  if (doc === undefined) return out;
  for (const [key, raw] of Object.entries(doc)) {
    const spec = SPEC.get(key);
    if (!spec || key === 'config.file')
      throw new ConfigError(`${file}: unknown key "${key}" (keys are flag names without "--", see --help)`);
    out.set(key, coerce(spec, raw, file));
  }
  return out;
}

/** Builds the frozen Config from parsed flags, the environment and the config file they name. */
export function loadConfig(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const envValues = fromEnv(env);
  const file = (args.values.get('config.file') ?? envValues.get('config.file')) as string | undefined;
  let fileValues = new Map<string, FlagValue>();
  if (file !== undefined) fileValues = parseConfigFile(readSettingsFile(file, '--config.file'), file);
  const get = <T extends FlagValue | undefined>(name: string): T => {
    for (const src of [args.values, envValues, fileValues]) if (src.has(name)) return src.get(name) as T;
    return SPEC.get(name)?.default as T;
  };
  const collectors: Record<string, boolean> = {};
  const collectorOptions: Record<string, object> = {};
  for (const c of COLLECTORS) {
    collectors[c.name] = get<boolean>(`collector.${c.name}`);
    collectorOptions[c.name] = c.options((option) => get(`collector.${c.name}.${option}`));
  }
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
    collectorOptions,
    alertsConfigFile: get('alerts.config.file'),
    alertmanager: {
      urls: get<string[]>('alertmanager.url'),
      configFile: get('alertmanager.config.file'),
      instance: (get<string | undefined>('alertmanager.instance') ?? defaultInstance(env)).trim(),
      labels: Object.fromEntries(
        get<string[]>('alertmanager.label').map(
          (l) => (LABEL.exec(l) as RegExpExecArray).slice(1, 3) as [string, string],
        ),
      ),
      resendMs: get('alertmanager.resend-interval'),
    },
    logLevel: get<LogLevel>('log.level'),
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
