// What the benchmarks read of a process and of a running exporter, written once for all of them.
import { spawn, spawnSync, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import { spawnBindStorm, type BindStorm } from '../test/support/bind-storm';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU seconds (user + system, every thread) of a process, from /proc/PID/stat (10 ms ticks). */
export function cpuSeconds(pid: number): number {
  // The fields after the command name, which may itself hold ") ": after its last ")".
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds of every thread of a process, to the nanosecond (schedstat: time on CPU); threads that ended are not counted. */
export function threadCpuSeconds(pid: number): number {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended: its time is in no file any more (the sampler's threads live as long as it)
    }
  }
  return ns / 1e9;
}

/** The first child of a process: the exporter under `unshare --fork`, which does not pass SIGTERM on. */
export function firstChild(pid: number): number | undefined {
  const first = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
  return first ? Number(first) : undefined;
}

/** A metric summed over its series, from an exporter's /metrics (0 where it has none). */
export async function metricSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

/** Several metrics, each summed over its series (metricSum), under the keys they are given by. */
export async function metricSums<K extends string>(url: string, names: Record<K, string>): Promise<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const [k, name] of Object.entries(names) as Array<[K, string]>) out[k] = await metricSum(url, name);
  return out;
}

/**
 * `mountstorm serve` as a node runs it, its log on stderr: a mount namespace of its own (so the
 * tracefs it mounts where none is goes with it), the host's PIDs and /proc. `unshare --fork` does not
 * pass SIGTERM on: stop the exporter itself (firstChild), and unshare follows.
 */
export function serveInNamespace(cli: string, args: string[]): ChildProcessByStdio<null, null, Readable> {
  return spawn(
    'unshare',
    ['--mount', '--fork', '--kill-child', '--propagation', 'private', process.execPath, cli, 'serve', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

/**
 * Runs this benchmark (`file`) again in a private mount namespace with its arguments after
 * `--inner`, and exits with its status; in that run it returns. Every mount the run makes (tracefs
 * included) vanishes with it.
 */
export function rerunInPrivateMountNamespace(file: string): void {
  if (process.argv[2] === '--inner') return;
  const r = spawnSync(
    'unshare',
    ['--mount', '--propagation', 'private', process.execPath, file, '--inner', ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}

/**
 * Runs this benchmark (`file`, its arguments after them) again as PID 1 of a new PID namespace with
 * its own /proc, in a private mount namespace, and exits with its status; in that run (`--inner`)
 * it returns. Every mount the run makes vanishes with it, and an exporter's /proc/1 is the run.
 */
export function rerunInPrivateNamespaces(file: string, args: string[]): void {
  if (process.argv.includes('--inner')) return;
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--pid',
      '--fork',
      '--mount-proc',
      '--propagation',
      'private',
      process.execPath,
      file,
      '--inner',
      ...args,
    ],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}

/** Waits until a process's output (stdout and stderr, where piped) matches `ready`; throws with it if the process exits first or 20 s pass. */
export async function started(p: ChildProcess, ready: RegExp): Promise<void> {
  let log = '';
  p.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  p.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; !ready.test(log); i++) {
    if (i > 400 || p.exitCode !== null) throw new Error(`did not start:\n${log}`);
    await sleep(50);
  }
}

/** SIGTERM, and its exit (at once where it has exited, by a signal too). */
export async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

/** When an exporter's log says its node storm page first fired (Unix seconds), or undefined. */
export function pageFiredAt(log: string): number | undefined {
  const m = /ts=(\S+) level=\w+ msg="node alert firing" alertname=MountStormImminent/.exec(log);
  return m ? Date.parse(m[1] as string) / 1000 : undefined;
}

/**
 * Where onset to page goes: polls an exporter's landing-page state every 100 ms until stopped, and
 * keeps each of its samples (the first poll that saw it: its time, the storm page's phase, and its
 * condition's figures against their thresholds). stop() renders them from a second before `first`
 * (the storm's first start, Unix seconds) to just after `paged`, with when tracing armed and which
 * collectors timed out or came back (from the exporter's `log`).
 */
export function watchStormPage(url: string): {
  stop(log: string, first: number, paged: number | undefined): Promise<string>;
} {
  const samples = new Map<number, [number, string]>();
  let polling = true;
  const poll = (async () => {
    while (polling) {
      try {
        const st = (await (await fetch(`${url}/api/state`)).json()) as {
          samples: number;
          conditions: Array<{ alert: string; holds: boolean; phase?: string; detail: string }>;
        };
        const c = st.conditions.find((x) => x.alert === 'MountStormImminent');
        if (c && !samples.has(st.samples))
          samples.set(st.samples, [Date.now() / 1000, `${c.phase ?? '-'}${c.holds ? ' (holds)' : ''}: ${c.detail}`]);
      } catch {
        // a poll lost under the storm's load: the next one reads the same samples
      }
      await sleep(100);
    }
  })();
  return {
    async stop(log, first, paged) {
      polling = false;
      await poll;
      const at = (t: number) => `${(t - first).toFixed(2).padStart(6)} s`;
      const lines: Array<[number, string]> = [];
      // When tracing armed, and collectors that timed out or came back (their names: the sample waited on them).
      for (const m of log.matchAll(
        /ts=(\S+) level=\w+ msg="(tracefs: armed|collector timed out|collector \w+ succeeded again)[^"]*"(?: collector=(\w+))?/g,
      ))
        lines.push([Date.parse(m[1] as string) / 1000, `${m[2]}${m[3] ? ` (${m[3]})` : ''}`]);
      for (const [t, line] of samples.values())
        if (t >= first - 1 && (paged === undefined || t <= paged + 0.5)) lines.push([t, line]);
      return lines
        .sort((a, b) => a[0] - b[0])
        .map(([t, line]) => `${at(t)}  ${line}\n`)
        .join('');
    },
  };
}

/**
 * Runs test/support/bind-storm.py to its end, calling `tick` every 20 ms meanwhile; resolves with
 * its closing line: the first start's Unix time and the starts.
 */
export function runBindStorm(
  o: Omit<BindStorm, 'stdout'>,
  tick: () => void,
): Promise<{ first: number; starts: number }> {
  return new Promise((resolve, reject) => {
    const p = spawnBindStorm({ ...o, stdout: 'pipe' });
    p.stderr?.pipe(process.stderr);
    let text = '';
    p.stdout?.on('data', (d: Buffer) => (text += d.toString()));
    const watch = setInterval(tick, 20);
    p.on('exit', (code) => {
      clearInterval(watch);
      if (code === 0) resolve(JSON.parse(text) as { first: number; starts: number });
      else reject(new Error(`the storm failed (${code})`));
    });
  });
}
