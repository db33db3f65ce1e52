/** Runs the built exporter as users do (node dist/src/cli.js serve …) and reads its /metrics. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { asNobody, CLI } from './env';
import { parseExposition, sum, type Sample } from './metrics';

export interface RunningExporter {
  proc: ChildProcess;
  url: string;
  /** Host PID of the node process (differs from proc.pid when wrapped in unshare). */
  pid: number;
  logs: () => string;
  metrics(): Promise<Sample[]>;
  /** Waits until `samples` more samples have completed after this call. */
  waitSamples(samples: number, timeoutMs?: number): Promise<Sample[]>;
  /**
   * The metrics once `done` holds of them, looked at after each new sample for up to `timeoutMs`
   * (default 60 s), then `settle` samples later (default 0: at once); else throws naming `what`, with
   * the log's tail.
   */
  until(
    done: (m: Sample[]) => boolean,
    what: string,
    opts?: { timeoutMs?: number; settle?: number },
  ): Promise<Sample[]>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface StartOptions {
  /** Wrap in a new mount + PID namespace, so /proc/1 is the exporter itself. */
  privateNamespaces?: boolean;
  /**
   * Wrap in a new mount namespace only, watching it (--mount.pid=self): in the host's PID namespace,
   * as a hostPID DaemonSet runs, where the namespace walk and node-wide mount events work.
   */
  ownMountNamespace?: boolean;
  /** Run in this process's mount namespace (nsenter), watching it (--mount.pid=self): a private node's. */
  mountNamespaceOf?: number;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run as nobody without capabilities (asNobody), where it can still read the build. */
  unprivileged?: boolean;
  /** The cli.js to run (default: this checkout's build). */
  cli?: string;
}

function childPid(pid: number): number | undefined {
  try {
    const kids = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length > 0 ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** The metrics of the exporter serving `url`. */
export async function metricsAt(url: string): Promise<Sample[]> {
  return parseExposition(await (await fetch(`${url}/metrics`)).text());
}

/**
 * Waits until `n` more samples have completed after this call at the exporter serving `url` (one
 * started here, or one in a pod); its metrics then.
 */
export async function waitSamplesAt(url: string, n: number, timeoutMs = 20_000): Promise<Sample[]> {
  const start = sum(await metricsAt(url), 'mountstorm_samples_total');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = await metricsAt(url);
    if (sum(m, 'mountstorm_samples_total') >= start + n) return m;
    if (Date.now() > end) throw new Error(`no ${n} samples within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startExporter(args: string[], opts: StartOptions = {}): Promise<RunningExporter> {
  const plain = [
    process.execPath,
    opts.cli ?? CLI,
    'serve',
    '--web.listen-address=127.0.0.1:0',
    ...(opts.ownMountNamespace || opts.mountNamespaceOf !== undefined ? ['--mount.pid=self'] : []),
    ...args,
  ];
  const node = opts.unprivileged ? asNobody(plain) : plain;
  const [cmd, ...argv] = opts.privateNamespaces
    ? ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', '--mount-proc', ...node]
    : opts.ownMountNamespace
      ? ['unshare', '--mount', '--fork', '--kill-child', '--propagation', 'private', ...node]
      : opts.mountNamespaceOf !== undefined
        ? ['nsenter', '-t', String(opts.mountNamespaceOf), '-m', '--', ...node]
        : node;
  const proc = spawn(cmd as string, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const wrapped = opts.privateNamespaces || opts.ownMountNamespace;
  // Started by unshare --fork: the exporter is its child (found once it exists).
  let pid = wrapped ? -1 : (proc.pid as number);
  let url: string | undefined;
  while (!url) {
    const m = /msg=listening address=([\d.]+:\d+)/.exec(out);
    if (m) url = `http://${m[1]}`;
    else if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`exporter did not start:\n${out}`);
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (wrapped && pid < 0) pid = childPid(proc.pid as number) ?? -1;
  const at = url;
  const metrics = () => metricsAt(at);
  const waitSamples = (n: number, timeoutMs?: number) => waitSamplesAt(at, n, timeoutMs);
  return {
    proc,
    url,
    pid,
    logs: () => out,
    metrics,
    waitSamples,
    async until(done, what, { timeoutMs = 60_000, settle = 0 } = {}) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = await waitSamples(1);
        if (done(m)) return settle > 0 ? waitSamples(settle) : m;
        if (Date.now() > end) throw new Error(`never within ${timeoutMs} ms: ${what}\n${out.slice(-3000)}`);
      }
    },
    async stop(signal = 'SIGTERM') {
      // unshare --fork ignores SIGTERM and SIGINT while it waits: signal the exporter itself, and
      // unshare exits with its status.
      if (proc.exitCode === null) {
        if (wrapped && pid > 0) process.kill(pid, signal);
        else proc.kill(signal);
      }
      return exited;
    },
  };
}

/** Runs `script` (sh -e) in the exporter's mount namespace; its output. */
export function inMountNamespace(exp: RunningExporter, script: string): string {
  return execFileSync('nsenter', ['-t', String(exp.pid), '-m', '--', 'sh', '-ec', script], { encoding: 'utf8' });
}

/**
 * The node's storm page as the exporter's log told it firing: its description, or undefined while
 * it has not fired.
 */
export function stormPage(exp: RunningExporter): string | undefined {
  const line = exp
    .logs()
    .split('\n')
    .find((l) => /msg="node alert firing" alertname=MountStormImminent/.test(l));
  return line ? /description="((?:[^"\\]|\\.)*)"/.exec(line)?.[1] : undefined;
}
