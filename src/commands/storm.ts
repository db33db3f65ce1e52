/**
 * `mountstorm storm`: a fire drill that reproduces a container mount storm with real syscalls, in a
 * private mount namespace of its own, and reports what it cost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { ConfigError, UnsupportedError } from '../errors';
import { hasCapSysAdmin } from '../kernel/capabilities';
import { MAX_LAYERS, MODES, type Mode } from '../storm/plan';
import { compare, formatComparison, formatReport } from '../storm/report';
import { runOnce, type RunOptions } from '../storm/run';

export const STORM_FLAGS: FlagSpec[] = [
  {
    name: 'mode',
    kind: 'string',
    default: 'per-layer-idmap',
    help: `Which storm: ${MODES.join(', ')} (per-cpu-masks: the per-CPU masked paths of 2025-2026, --cpus).`,
    check: (v) => ((MODES as readonly string[]).includes(String(v)) ? undefined : `must be one of ${MODES.join(', ')}`),
  },
  {
    name: 'containers',
    kind: 'int',
    default: 100,
    help: 'Containers to start in one burst (ignored with --duration).',
    check: (v) => ((v as number) >= 1 ? undefined : 'must be at least 1'),
  },
  {
    name: 'layers',
    kind: 'int',
    default: 50,
    help: `Image layers per container (1-${MAX_LAYERS}).`,
    check: (v) =>
      (v as number) >= 1 && (v as number) <= MAX_LAYERS ? undefined : `must be between 1 and ${MAX_LAYERS}`,
  },
  {
    name: 'cpus',
    kind: 'int',
    default: os.cpus().length,
    help: "per-cpu-masks: the host's CPUs whose thermal_throttle directories every container masks (one mount each), as kubelet and containerd mask them since 2025-2026; default this host's.",
    check: (v) => ((v as number) >= 0 && (v as number) <= 8192 ? undefined : 'must be between 0 and 8192'),
  },
  {
    name: 'table',
    kind: 'int',
    default: 1000,
    help: 'namespace-copy: the mounts in the table every new mount namespace copies (bind mounts made once in the drill).',
    check: (v) => ((v as number) >= 0 && (v as number) <= 100_000 ? undefined : 'must be between 0 and 100000'),
  },
  {
    name: 'concurrency',
    kind: 'int',
    default: 4,
    help: 'Worker threads starting containers in parallel.',
    check: (v) => ((v as number) >= 1 && (v as number) <= 1024 ? undefined : 'must be between 1 and 1024'),
  },
  {
    name: 'rate',
    kind: 'string',
    default: '0',
    help: 'Container starts per second across all threads (0: as fast as they go); the same rate in two modes compares their signatures, not their speeds.',
    check: (v) =>
      /^\d+(\.\d+)?$/.test(String(v)) && Number(v) <= 10_000
        ? undefined
        : 'must be a number of starts per second, 0-10000',
  },
  {
    name: 'task-dir',
    kind: 'path',
    default: undefined,
    help: "Make each container's bundle as a runtime does: <task-dir>/mountstorm-drill/<id>/config.json (with the CRI's image and pod annotations) while it runs, so the exporter's containers collector sees real starts (--collector.containers.task-dir). On the host's file system, outside the storm's namespace.",
  },
  {
    name: 'scratch-dir',
    kind: 'path',
    default: '/var/tmp',
    help: "Where the idmap modes put the image layers when this kernel's tmpfs cannot be idmapped (before Linux 6.3): a directory made under it and removed when the drill ends (a few KB). Its file system must allow idmapped mounts: ext4, xfs or btrfs (Linux 5.12+).",
  },
  {
    name: 'image',
    kind: 'string',
    default: undefined,
    help: 'The image name its bundles carry (default: drill/<mode>-<layers>-layers:latest, drill/per-cpu-masks-<cpus>-cpus:latest).',
  },
  { name: 'duration', kind: 'duration', default: 0, help: 'Sustain the storm this long instead of one burst.' },
  {
    name: 'hold',
    kind: 'duration',
    default: 0,
    help: "Keep each container's rootfs mounted this long, growing the table as running pods do.",
  },
  {
    name: 'compare',
    kind: 'string',
    default: undefined,
    help: 'Run this second mode on the same workload and print the ratio.',
    check: (v) => ((MODES as readonly string[]).includes(String(v)) ? undefined : `must be one of ${MODES.join(', ')}`),
  },
  { name: 'json', kind: 'bool', default: false, help: 'Print the report as JSON.' },
  {
    name: 'progress',
    kind: 'bool',
    default: true,
    help: 'Show progress on stderr (a bar on a terminal, plain lines otherwise).',
  },
  {
    name: 'json-progress',
    kind: 'bool',
    default: false,
    help: 'Progress on stderr as JSON lines instead, one every 200 ms: {"done": containers started, "elapsed": seconds since the storm began, "monotonic": CLOCK_MONOTONIC seconds} (for scripts that time a storm against other events).',
  },
];

export const STORM_USAGE = `usage: mountstorm storm [flags]

Reproduces a container mount storm with real mount syscalls (open_tree, mount_setattr, move_mount,
mount, umount2) in a private mount namespace on its own tmpfs; nothing reaches the host's mount
table, also if the command is killed. Needs CAP_SYS_ADMIN (root). Modes: per-layer-idmap (a runtime
that idmaps every image layer), common-parent-idmap (the fix), bind-per-layer (without idmapped
mounts), per-cpu-masks (a masked path per CPU in every container: --cpus=192 for a 192-CPU host),
namespace-copy (a new mount namespace per container, copying a table of --table mounts).

flags:
${flagsHelp(STORM_FLAGS)}
`;

export async function stormCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, STORM_FLAGS);
  if (args.help) {
    process.stdout.write(STORM_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new ConfigError(`unexpected argument "${args.positionals[0]}"`);
  const get = <T>(name: string): T => flagValue(args, STORM_FLAGS, name) as T;
  const opts: RunOptions = {
    mode: get<Mode>('mode'),
    containers: get('containers'),
    layers: get('layers'),
    cpus: get('cpus'),
    table: get('table'),
    concurrency: get('concurrency'),
    durationMs: get('duration'),
    holdMs: get('hold'),
    rate: Number(get<string>('rate')),
    taskDir: get<string | undefined>('task-dir'),
    image: get<string | undefined>('image'),
    scratchDir: get<string>('scratch-dir'),
    parentMountNs: fs.readlinkSync('/proc/self/ns/mnt'),
    progress: get<boolean>('progress') && !get<boolean>('json'),
    jsonProgress: get<boolean>('json-progress'),
  };
  if (!hasCapSysAdmin()) {
    throw new UnsupportedError(
      'mountstorm storm needs CAP_SYS_ADMIN to make mounts (run it as root); no mode can run without it',
    );
  }
  const json = get<boolean>('json');
  const second = get<Mode | undefined>('compare');
  const first = await runOnce(opts);
  if (second === undefined) {
    process.stdout.write(json ? JSON.stringify(first, null, 2) + '\n' : formatReport(first) + '\n');
    return 0;
  }
  const other = await runOnce({ ...opts, mode: second });
  const c = compare(first, other);
  process.stdout.write(json ? JSON.stringify(c, null, 2) + '\n' : formatComparison(c) + '\n');
  return 0;
}
