/**
 * The guest side of the guest tier: runs inside a qemu guest booted on one of Debian's kernels
 * (test/support/guest.ts builds it), as its init's only program, root in the guest's own namespaces,
 * which are a node's. It writes one JSON object per line to stdout (the guest's second serial port):
 * the kernel, what `mountstorm doctor` reports, then each scenario: the exporter started on its
 * defaults (fresh for each, as a DaemonSet's pod starts), a load whose every container start is a
 * bundle in the watched containerd task directory, whether and when the node's storm page fired,
 * and the exporter's log and metrics afterwards. The host test decides what is right.
 * usage: node guest-scenarios.js SECONDS RATE SCENARIO...
 *   quiet          nothing but the exporter, for SECONDS
 *   per-layer      the drill's per-layer idmap storm (50 layers), unpaced on 8 threads, SECONDS
 *   common-parent  the drill's fixed runtime (common-parent idmap) at the start rate the last
 *                  per-layer storm reached (else RATE), on 8 threads
 *   watched-binds  containers of 50 bind mounts each made in the watched namespace itself, as
 *                  containerd's shim mounts a rootfs, RATE starts/s
 *   masks          the drill's per-CPU masked paths of a 192-CPU host, each container in a mount
 *                  namespace of its own (as runc masks them), unpaced on 8 threads
 *   tax:ROUNDS     a neighbour's getppid() loop (/opt/getppid-loop, RATE million calls) timed with
 *                  the exporter stopped, on its defaults, and with tracing always on, in rotating
 *                  order, ROUNDS rounds (bench/guest.ts; bench/quiet-node.ts on the host)
 * Every drill container is held a second, as a runtime's bundle stays while its container runs.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { MS_BIND, umount2, mount } from '../../src/kernel/mount';
import { CLI } from './env';
import { startExporter, stormPage, type RunningExporter } from './exporter';

/** containerd's default task directory: the exporter watches it on its defaults. */
const TASKS = '/run/containerd/io.containerd.runtime.v2.task';
const LAYERS = 50;

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

interface Load {
  /** Resolves with what the load reports once it has ended. */
  done: Promise<Record<string, unknown>>;
  stop(): void;
}

/** The storm drill as a user runs it, its containers' bundles in the watched task directory. */
function drill(args: string[]): Load {
  const p = spawn(process.execPath, [CLI, 'storm', '--json', '--no-progress', `--task-dir=${TASKS}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Record<string, unknown>>((resolve) =>
    p.on('exit', (code) => {
      let report: unknown;
      try {
        report = JSON.parse(out);
      } catch {
        report = undefined;
      }
      resolve({ command: ['storm', ...args].join(' '), exit: code, report, stderr: err.slice(-2000) });
    }),
  );
  return { done, stop: () => p.kill('SIGTERM') };
}

/**
 * Containers whose rootfs is LAYERS bind mounts made in the watched namespace, RATE starts a second
 * for SECONDS: each a bundle (config.json, as containerd writes it), then its mounts, held a second,
 * then unmounted and the bundle removed.
 */
function watchedBinds(seconds: number, rate: number): Load {
  const root = '/run/guest-binds';
  fs.mkdirSync(`${root}/src`, { recursive: true });
  let stopped = false;
  let started = 0;
  let syscalls = 0;
  const begun = Date.now();
  const done = new Promise<Record<string, unknown>>((resolve) => {
    let live = 0;
    const finish = (): void => {
      if (live === 0 && (stopped || Date.now() - begun >= seconds * 1000))
        resolve({ command: `watched-binds ${seconds}s ${rate}/s`, containers: started, syscalls });
    };
    const start = (): void => {
      if (stopped || Date.now() - begun >= seconds * 1000) return finish();
      const id = `binds-${started++}`;
      const bundle = `${TASKS}/k8s.io/${id}`;
      fs.mkdirSync(bundle, { recursive: true });
      fs.writeFileSync(
        `${bundle}/config.json`,
        JSON.stringify({
          ociVersion: '1.2.0',
          root: { path: 'rootfs' },
          annotations: {
            'io.kubernetes.cri.container-type': 'container',
            'io.kubernetes.cri.image-name': 'guest/binds:latest',
          },
        }),
      );
      const dirs = Array.from({ length: LAYERS }, (_, i) => `${root}/${id}/${i}`);
      for (const d of dirs) {
        fs.mkdirSync(d, { recursive: true });
        mount(`${root}/src`, d, null, MS_BIND);
        syscalls++;
      }
      live++;
      setTimeout(() => {
        for (const d of dirs) {
          umount2(d);
          syscalls++;
        }
        fs.rmSync(`${root}/${id}`, { recursive: true, force: true });
        fs.rmSync(bundle, { recursive: true, force: true });
        live--;
        finish();
      }, 1000);
      setTimeout(start, Math.max(0, begun + (started * 1000) / rate - Date.now()));
    };
    start();
  });
  return { done, stop: () => (stopped = true) };
}

/** The start rate the last per-layer storm reached: what common-parent churn is paced at. */
let perLayerRate: number | undefined;

function load(name: string, seconds: number, rate: number): Load | undefined {
  const common = [`--duration=${seconds}s`, '--hold=1s', '--concurrency=8'];
  switch (name) {
    case 'quiet':
      return undefined;
    case 'per-layer': {
      const l = drill(['--mode=per-layer-idmap', `--layers=${LAYERS}`, ...common]);
      void l.done.then((r) => {
        const report = r.report as { containers?: number; wallSeconds?: number } | undefined;
        if (report?.containers && report.wallSeconds) perLayerRate = report.containers / report.wallSeconds;
      });
      return l;
    }
    case 'common-parent':
      return drill([
        '--mode=common-parent-idmap',
        `--layers=${LAYERS}`,
        `--rate=${(perLayerRate ?? rate).toFixed(2)}`,
        ...common,
      ]);
    case 'masks':
      return drill(['--mode=per-cpu-masks', '--cpus=192', ...common]);
    case 'watched-binds':
      return watchedBinds(seconds, rate);
    default:
      throw new Error(`no scenario ${name}`);
  }
}

/** The storm page's condition now (/api/state): its phase and detail; undefined where the state cannot be read. */
async function stormCondition(exp: RunningExporter): Promise<string | undefined> {
  try {
    const state = (await (await fetch(`${exp.url}/api/state`)).json()) as {
      conditions?: { alert: string; holds: boolean; phase?: string; detail: string }[];
    };
    const c = state.conditions?.find((x) => x.alert === 'MountStormImminent');
    return c && `${c.phase ?? (c.holds ? 'holds' : 'not held')}: ${c.detail}`;
  } catch {
    return undefined;
  }
}

async function scenario(name: string, seconds: number, rate: number): Promise<void> {
  const exp: RunningExporter = await startExporter([], { timeoutMs: 60_000 });
  try {
    await exp.waitSamples(3, 60_000);
    const began = Date.now();
    const l = load(name, seconds, rate);
    let pageAfter: number | undefined;
    let over = false;
    const result = l?.done.then((r) => ((over = true), r));
    const until = began + seconds * 1000;
    // The storm page's condition at each sample, as the landing page gives it: what a test that
    // finds no page says about why.
    const condition: string[] = [];
    while (l ? !over : Date.now() < until) {
      await exp.waitSamples(1, 60_000);
      if (pageAfter === undefined && stormPage(exp) !== undefined) pageAfter = (Date.now() - began) / 1000;
      const c = await stormCondition(exp);
      if (c) condition.push(`${((Date.now() - began) / 1000).toFixed(1)} s: ${c}`);
    }
    // The samples that cover the load's last seconds; then, while the storm page is pending, up to
    // ten more for it to settle: under TCG a starved exporter's samples come seconds apart, and its
    // page can come as a load ends.
    await exp.waitSamples(3, 60_000);
    for (let i = 0; i < 10 && stormPage(exp) === undefined; i++) {
      const c = await stormCondition(exp);
      if (!c?.startsWith('pending')) break;
      condition.push(`${((Date.now() - began) / 1000).toFixed(1)} s (after the load): ${c}`);
      await exp.waitSamples(1, 60_000);
    }
    if (pageAfter === undefined && stormPage(exp) !== undefined) pageAfter = (Date.now() - began) / 1000;
    const metrics = await (await fetch(`${exp.url}/metrics`)).text();
    emit({
      kind: 'scenario',
      name,
      seconds,
      rate,
      load: await result,
      page: stormPage(exp),
      pageAfterSeconds: pageAfter,
      condition,
      metrics,
      log: exp.logs(),
    });
  } catch (err) {
    // The exporter's own words: a guest keeps no other record of why it stopped answering.
    throw new Error(
      `the ${name} scenario: ${err instanceof Error ? err.message : String(err)}\nexporter log:\n${exp.logs().slice(-4000)}`,
      { cause: err },
    );
  } finally {
    await exp.stop('SIGTERM');
  }
}

type TaxArm = 'stopped' | 'defaults' | 'always';
const TAX_ARMS: Record<TaxArm, string[] | undefined> = {
  stopped: undefined,
  defaults: [],
  always: ['--collector.tracefs.mode=always'],
};

/** ns per getppid() call of the neighbour loop, with the exporter as `arm` has it (settled 3 s). */
async function taxRound(arm: TaxArm, calls: number): Promise<{ ns: number; armed: boolean }> {
  const loop = () => Number(execFileSync('/opt/getppid-loop', [String(calls)], { encoding: 'utf8' }));
  const extra = TAX_ARMS[arm];
  if (!extra) return { ns: loop(), armed: false };
  const exp = await startExporter(extra, { timeoutMs: 60_000 });
  try {
    await exp.waitSamples(3, 60_000);
    const ns = loop();
    return { ns, armed: /tracefs: armed/.test(exp.logs()) };
  } finally {
    await exp.stop('SIGTERM');
  }
}

async function tax(rounds: number, calls: number): Promise<void> {
  const arms = Object.keys(TAX_ARMS) as TaxArm[];
  const results: Array<{ round: number; arm: TaxArm; ns: number; armed: boolean }> = [];
  for (let r = 0; r < rounds; r++)
    for (let i = 0; i < arms.length; i++) {
      const arm = arms[(i + r) % arms.length] as TaxArm;
      results.push({ round: r, arm, ...(await taxRound(arm, calls)) });
    }
  emit({ kind: 'scenario', name: 'tax', calls, results });
}

async function main(): Promise<void> {
  const [seconds, rate, ...names] = process.argv.slice(2);
  emit({ kind: 'kernel', release: os.release(), cpus: os.cpus().length });
  const doctor = execFileSync(process.execPath, [CLI, 'doctor', '--json'], { encoding: 'utf8' });
  emit({ kind: 'doctor', report: JSON.parse(doctor) as unknown });
  for (const name of names) {
    const taxRounds = /^tax:(\d+)$/.exec(name)?.[1];
    if (taxRounds) await tax(Number(taxRounds), Number(rate) * 1e6);
    else await scenario(name, Number(seconds), Number(rate));
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    emit({ kind: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
