/**
 * One drill, run from the parent: the child (child.ts) started in a private mount namespace of its
 * own under `unshare --kill-child`, its progress relayed (a bar on a terminal, plain lines, or JSON
 * lines), its report returned; what a killed child leaves (its directory, its bundles) removed.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { SingleBar, Presets } from 'cli-progress';
import { UnsupportedError } from '../errors';
import type { ChildOptions } from './child';
import { BUNDLE_NAMESPACE } from './plan';
import type { StormReport } from './report';

export interface RunOptions extends ChildOptions {
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

export function runOnce(opts: RunOptions): Promise<StormReport> {
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
    else if (msg.type === 'notice') process.stderr.write(`mountstorm: ${msg.message as string}\n`);
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
