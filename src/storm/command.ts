/**
 * `mountstorm storm`: a fire drill that reproduces a container mount storm with real syscalls, in a
 * private mount namespace of its own, and reports what it cost.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { SingleBar, Presets } from 'cli-progress';
import { flagValue, flagsHelp, parseArgs, type FlagSpec } from '../flags';
import { ConfigError, UnsupportedError } from '../errors';
import { hasCapSysAdmin } from '../kernel/capabilities';
import { BUNDLE_NAMESPACE, MAX_LAYERS, MODES, type Mode } from './plan';
import { compare, formatComparison, formatReport, type StormReport } from './report';
import type { ChildOptions } from './child';

export const STORM_FLAGS: FlagSpec[] = [
  {
    name: 'mode',
    kind: 'string',
    default: 'per-layer-idmap',
    help: `How containers mount their layers: ${MODES.join(', ')}.`,
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
    name: 'image',
    kind: 'string',
    default: undefined,
    help: 'The image name its bundles carry (default: drill/<mode>-<layers>-layers:latest).',
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
table, also if the command is killed. Needs CAP_SYS_ADMIN (root).

flags:
${flagsHelp(STORM_FLAGS)}
`;

interface RunOptions extends ChildOptions {
  progress: boolean;
  jsonProgress: boolean;
}

function removeBundles(taskDir: string, pid: number): void {
  const dir = path.join(taskDir, BUNDLE_NAMESPACE);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names)
    if (n.startsWith(`drill-${pid}-`)) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
}

function runOnce(opts: RunOptions): Promise<StormReport> {
  const child = path.join(__dirname, 'child.js');
  const { progress, jsonProgress, ...childOpts } = opts;
  const proc = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--fork',
      '--kill-child',
      process.execPath,
      child,
      JSON.stringify(childOpts),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let root: string | undefined;
  let pid: number | undefined;
  let result: StormReport | undefined;
  let error: { code: string; message: string } | undefined;
  const tty = progress && !jsonProgress && process.stderr.isTTY === true;
  const total = opts.durationMs > 0 ? undefined : opts.containers;
  const bar =
    tty && total
      ? new SingleBar(
          { format: `${opts.mode} [{bar}] {value}/{total} containers | {duration_formatted}`, stream: process.stderr },
          Presets.shades_classic,
        )
      : undefined;
  bar?.start(total ?? 0, 0);
  let lastPlain = 0;
  // unshare ignores SIGTERM and SIGINT while it waits for its child: the storm's own process is told.
  const stop = () => {
    try {
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
      else proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  readline.createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let msg: { type: string; [k: string]: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'start') {
      root = msg.root as string;
      pid = msg.pid as number;
    } else if (msg.type === 'result') result = msg.report as StormReport;
    else if (msg.type === 'error') error = msg as unknown as { code: string; message: string };
    else if (msg.type === 'progress') {
      if (jsonProgress)
        process.stderr.write(JSON.stringify({ done: msg.done, elapsed: msg.elapsed, monotonic: msg.monotonic }) + '\n');
      else if (bar) bar.update(msg.done as number);
      else if (progress && Date.now() - lastPlain >= 1000) {
        lastPlain = Date.now();
        process.stderr.write(
          `storm ${opts.mode}: ${msg.done as number}${total ? `/${total}` : ''} containers, ${(msg.elapsed as number).toFixed(1)} s\n`,
        );
      }
    }
  });
  return new Promise((resolve, reject) => {
    proc.on('exit', (code) => {
      bar?.stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // The child removes its directory; if it was killed, the (empty, unmounted here) directory is ours to remove.
      if (root) fs.rm(root, { recursive: true, force: true }, () => undefined);
      // So are the bundles of containers it had running (the child removes them as they go).
      if (opts.taskDir && pid !== undefined) removeBundles(opts.taskDir, pid);
      if (result) resolve(result);
      else if (error?.code === 'E_IDMAP') reject(new UnsupportedError(error.message));
      else reject(new Error(error ? error.message : `storm process exited with code ${code}`));
    });
  });
}

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
    concurrency: get('concurrency'),
    durationMs: get('duration'),
    holdMs: get('hold'),
    rate: Number(get<string>('rate')),
    taskDir: get<string | undefined>('task-dir'),
    image: get<string | undefined>('image'),
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
