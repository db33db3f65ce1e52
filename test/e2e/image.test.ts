/**
 * What users deploy, run as they deploy it: the Dockerfile built with Debian's buildah (on a base
 * assembled from this machine's packages, test/support/image.ts), imported into Debian's real
 * containerd and started through its CRI API as kubelet starts the DaemonSet's pod — each overlay's
 * pod spec read from the rendered manifests (user, group, capabilities, read-only root, no
 * privilege escalation, seccomp, hostPID, the args, the environment, the host's /proc, /sys, tracefs
 * and /run/containerd where the DaemonSet mounts them, the memory limit). Only the pod's network
 * is the node's (no CNI here), containerd runs in this machine's PID namespace (a hostPID pod's, where
 * the namespace walk works) and mount namespace of its own, and the node's /run/containerd is its
 * state directory.
 *
 * For each overlay: it starts and serves /metrics and /healthz; each collector's success is the
 * one deploy/README.md's table states; it says whether it can page (mountstorm_storm_page_capable);
 * and a per-layer storm on the node (the drill, its containers bundles in containerd's watched task
 * directory) pages through the node's own evaluator where the overlay claims to page, while
 * common-parent churn at the same start rate does not. Overlays with the same pod spec run once.
 * What each run saw goes to test-artifacts/image-<overlay>.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { THRESHOLDS } from '../../src/alerts/thresholds';
import { parseDuration } from '../../src/flags';
import { ARTIFACTS, CLI, IS_ROOT, REPO, hasCommand, requireInCi, testIf } from '../support/env';
import {
  buildImage as buildBusyboxImage,
  containerdPid,
  startContainerd,
  type RunningContainerd,
} from '../support/containerd';
import { containerFromSpec, CriClient, podSandboxFromSpec, stringField, type PodSpecLike } from '../support/cri';
import { metricsAt, waitSamplesAt } from '../support/exporter';
import { buildDockerfile, removeBuild, type BuiltImage } from '../support/image';
import { kustomizeBuild, type K8sObject } from '../support/kustomize';
import { sum, type Sample } from '../support/metrics';

const ready =
  IS_ROOT &&
  ['buildah', 'containerd', 'ctr', 'runc', 'setpriv', 'unshare'].every(hasCommand) &&
  fs.existsSync('/bin/busybox');
requireInCi(ready, 'root, buildah, containerd, runc and busybox-static to build the image and run it as the DaemonSet');

const K8S = path.join(REPO, 'deploy/kubernetes');
const PAUSE = 'docker.io/mountstorm/pause:latest';
const NODE_NAME = 'node-under-test';
/**
 * Both drills run unpaced on 8 threads: the storm's strength is explicit (the most lock contention
 * this machine can make; see test/e2e/fire-drill.test.ts), and the common-parent churn starts
 * containers faster than the storm, so its silence is the signature's, not a want of starts.
 * The churn runs first, then one fast window of the node's samples passes (its starts would dilute
 * the storm's per-start signature) rather than the longer wait for a page to clear; a pod that
 * cannot page gets the storm alone (its churn could not page either).
 */
const CONCURRENCY = 8;
const STORM_SECONDS = 30;
/** Five times the node's ~4 s from onset to page: long enough for a false page to show. */
const CHURN_SECONDS = 20;

/**
 * What deploy/README.md's table says of each overlay: who it runs as, what it adds, which
 * collectors work, and whether it pages on a per-layer storm (all stay silent on common-parent churn).
 */
const EXPECTED: Record<
  string,
  { user: number; add: string[]; collectors: Record<string, boolean>; pages: boolean; starts?: false }
> = {
  default: {
    user: 0,
    add: ['SYS_ADMIN', 'SYS_PTRACE'],
    collectors: {
      mounts: true,
      probes: true,
      namespaces: true,
      cpu: true,
      host: true,
      tracefs: true,
      containers: true,
    },
    pages: true,
  },
  podmonitor: {
    user: 0,
    add: ['SYS_ADMIN', 'SYS_PTRACE'],
    collectors: {
      mounts: true,
      probes: true,
      namespaces: true,
      cpu: true,
      host: true,
      tracefs: true,
      containers: true,
    },
    pages: true,
  },
  tracefs: {
    user: 0,
    add: ['SYS_ADMIN', 'SYS_PTRACE'],
    collectors: {
      mounts: true,
      probes: true,
      namespaces: true,
      cpu: true,
      host: true,
      tracefs: true,
      containers: true,
    },
    pages: true,
  },
  'node-alerts': {
    user: 0,
    add: ['SYS_ADMIN', 'SYS_PTRACE'],
    collectors: {
      mounts: true,
      probes: true,
      namespaces: true,
      cpu: true,
      host: true,
      tracefs: true,
      containers: true,
    },
    pages: true,
  },
  restricted: {
    user: 65534,
    add: [],
    collectors: { mounts: true, probes: true, namespaces: true, cpu: true, host: true, containers: true },
    pages: false,
    starts: false,
  },
};
const OVERLAYS = Object.keys(EXPECTED);

type DaemonSet = { spec: { template: { spec: PodSpecLike } } };
type AlertState = 'inactive' | 'pending' | 'firing';

interface StormSeen {
  mode: string;
  /** The worst state MountStormImminent reached on the node's own evaluator. */
  worst: AlertState;
  /** Seconds from the storm's first container to firing. */
  firedAfter?: number;
  containers?: number;
  /** Container starts per second the drill made. */
  startsPerSecond?: number;
  /** The node's condition for the page as it last stood (landing page /api/state): the values that decided it. */
  decidedBy?: string;
}

interface OverlayRun {
  overlay: string;
  podSpec: PodSpecLike;
  healthz: number;
  collectors: Record<string, boolean>;
  pageCapable: number;
  pageBlocked: string[];
  taskDirsWatched: number;
  /** /api/state's page capability (the landing page's banner). */
  page: { capable: boolean; blockers: unknown[] } | undefined;
  /** The per-layer storm, then the common-parent churn where the pod can page (it ran first). */
  storms: StormSeen[];
  logs: string;
}

let dir: string;
let ctd: RunningContainerd | undefined;
let cri: CriClient | undefined;
let image: BuiltImage | undefined;
const runs = new Map<string, Promise<OverlayRun>>();

/**
 * Measurements, not overlays: the default pod with fewer privileges, to tell which privilege gives
 * which signal (deploy/README.md's list under the table).
 */
const EVERY = { mounts: true, probes: true, namespaces: true, cpu: true, host: true, tracefs: true, containers: true };
const VARIANTS: Record<
  string,
  {
    caps: string[];
    /** tracefs mounted at the host's /sys/kernel/tracing (in containerd's mount namespace), as systemd mounts it. */
    hostTracefs?: true;
    want: { collectors: Record<string, boolean>; pages: boolean; blocked: string[] };
  }
> = {
  'sys-admin-only': { caps: ['SYS_ADMIN'], want: { collectors: EVERY, pages: true, blocked: [] } },
  // Root owns the task directory, but without CAP_SYS_ADMIN no walk, no mount events, and no tracefs
  // where the host has none mounted (this machine: the exporter's mount of it is refused), so no
  // mount syscalls are traced whatever the starts would arm.
  'root-no-capabilities': { caps: [], want: { collectors: EVERY, pages: false, blocked: ['no_mount_signature'] } },
  // The same on a host that has tracefs mounted: root owns it, creates its instance, and the starts it
  // sees in the task directory arm tracing (src/alerts/arming.ts), so it pages without the walk.
  'root-no-capabilities-host-tracefs': {
    caps: [],
    hostTracefs: true,
    want: { collectors: EVERY, pages: true, blocked: [] },
  },
};

function daemonSet(name: string): { objs: K8sObject[]; spec: PodSpecLike } {
  const variant = VARIANTS[name];
  const objs = kustomizeBuild(path.join(K8S, 'overlays', variant ? 'default' : name));
  const spec = (objs.find((o) => o.kind === 'DaemonSet') as unknown as DaemonSet).spec.template.spec;
  if (variant)
    spec.containers[0]!.securityContext!.capabilities = variant.caps.length
      ? { drop: ['ALL'], add: variant.caps }
      : { drop: ['ALL'] };
  return { objs, spec };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function imminent(m: Sample[]): AlertState {
  const on = (state: string) => sum(m, 'mountstorm_node_alerts', { alertname: 'MountStormImminent', state }) === 1;
  return on('firing') ? 'firing' : on('pending') ? 'pending' : 'inactive';
}

const RANK: Record<AlertState, number> = { inactive: 0, pending: 1, firing: 2 };

/** A drill of `mode` whose containers are bundles in containerd's task directory; until it ends or the page fires. */
async function storm(url: string, mode: string, taskDir: string, seconds: number): Promise<StormSeen> {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'storm',
      `--mode=${mode}`,
      `--concurrency=${CONCURRENCY}`,
      '--layers=50',
      `--duration=${seconds}s`,
      `--task-dir=${taskDir}`,
      '--json',
      '--json-progress',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let began: number | undefined;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      try {
        const p = JSON.parse(line) as { done: number; elapsed: number };
        if (began === undefined && p.done > 0) began = Date.now() - p.elapsed * 1000;
      } catch {
        /* a partial line */
      }
    }
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const seen: StormSeen = { mode, worst: 'inactive' };
  while (child.exitCode === null) {
    const state = imminent(await metricsAt(url));
    if (RANK[state] > RANK[seen.worst]) seen.worst = state;
    if (state === 'firing') {
      seen.firedAfter = began === undefined ? undefined : (Date.now() - began) / 1000;
      break;
    }
    await Promise.race([sleep(250), exited]);
  }
  const st = (await (await fetch(`${url}/api/state`)).json()) as { conditions: { alert: string; detail: string }[] };
  seen.decidedBy = st.conditions.find((c) => c.alert === 'MountStormImminent')?.detail;
  child.kill('SIGTERM');
  await exited;
  try {
    const report = JSON.parse(out) as { containers: number; wallSeconds: number };
    seen.containers = report.containers;
    seen.startsPerSecond = report.containers / report.wallSeconds;
  } catch {
    seen.containers = undefined;
  }
  return seen;
}

/** A tracefs mounted in containerd's mount namespace (gone with it), for a pod's /sys/kernel/tracing hostPath. */
function hostTracefs(): string {
  const at = path.join(dir, 'host-tracefs');
  if (fs.existsSync(at)) return at;
  fs.mkdirSync(at);
  const pid = containerdPid(dir);
  if (!pid) throw new Error('containerd is not running');
  execFileSync('nsenter', ['-t', pid, '-m', '--', 'mount', '-t', 'tracefs', 'nodev', at]);
  return at;
}

async function runOverlay(overlay: string): Promise<OverlayRun> {
  if (!ctd || !cri) throw new Error('containerd did not start');
  const { objs, spec } = daemonSet(overlay);
  // The Secret's files where its volume is mounted (node-alerts), as kubelet writes them.
  const secrets: Record<string, string> = {};
  for (const s of objs.filter((o) => o.kind === 'Secret') as unknown as {
    metadata: { name: string };
    stringData: Record<string, string>;
  }[]) {
    const d = fs.mkdtempSync(path.join(dir, `secret-${s.metadata.name}-`));
    for (const [k, v] of Object.entries(s.stringData)) fs.writeFileSync(path.join(d, k), v, { mode: 0o400 });
    secrets[s.metadata.name] = d;
  }
  const state = path.join(dir, 'state');
  const tracefs = VARIANTS[overlay]?.hostTracefs ? hostTracefs() : undefined;
  // The runtimes' directories are this test's: containerd's state, and an empty containers/storage
  // (as on a node without CRI-O or Podman): the host's own stores stay out of the pod.
  const stores = path.join(dir, 'containers-storage');
  const hostPath = (p: string) => {
    if (p === '/run/containerd') return state;
    if (p === '/sys/kernel/tracing' && tracefs) return tracefs;
    if (!p.endsWith('/containers/storage')) return p;
    // DirectoryOrCreate, as kubelet makes it.
    fs.mkdirSync(path.join(stores, p), { recursive: true });
    return path.join(stores, p);
  };
  const logs = path.join(dir, 'pod-logs', overlay);
  fs.mkdirSync(logs, { recursive: true });
  const sandbox = podSandboxFromSpec(spec, 'mountstorm', `mountstorm-${overlay}`, `uid-${overlay}`, logs);
  const podId = stringField(await cri.call('RunPodSandbox', [[1, sandbox]]), 1);
  const logFile = path.join(logs, `${spec.containers[0]?.name}.log`);
  const readLogs = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  try {
    const containerId = stringField(
      await cri.call('CreateContainer', [
        [1, podId],
        [2, containerFromSpec(spec, { hostPath, secrets, fields: { 'spec.nodeName': NODE_NAME } })],
        [3, sandbox],
      ]),
      1,
    );
    await cri.call('StartContainer', [[1, containerId]]);
    const port = /--web\.listen-address=:(\d+)/.exec((spec.containers[0]?.args ?? []).join(' '))?.[1];
    const url = `http://127.0.0.1:${port}`;
    let healthz = 0;
    for (let i = 0; healthz !== 200; i++) {
      healthz = await fetch(`${url}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (i > 300) throw new Error(`the exporter never answered /healthz:\n${readLogs()}`);
      if (healthz !== 200) await sleep(100);
    }
    // A few samples: the collectors' state settles (the first walk, the task directory's watch).
    const m = await waitSamplesAt(url, 3, 60_000);
    const collectors: Record<string, boolean> = {};
    for (const s of m.filter((x) => x.name === 'mountstorm_sample_collector_success'))
      collectors[s.labels.collector as string] = s.value === 1;
    const run: OverlayRun = {
      overlay,
      podSpec: spec,
      healthz,
      collectors,
      pageCapable: sum(m, 'mountstorm_storm_page_capable'),
      pageBlocked: m
        .filter((x) => x.name === 'mountstorm_storm_page_blocked' && x.value === 1)
        .map((x) => x.labels.reason as string)
        .sort(),
      taskDirsWatched: sum(m, 'mountstorm_container_task_dirs_watched'),
      page: ((await (await fetch(`${url}/api/state`)).json()) as { page?: OverlayRun['page'] }).page,
      storms: [],
      logs: '',
    };
    // Where the pod can page: the churn, which must not, then the storm, which must.
    const taskDir = path.join(state, 'io.containerd.runtime.v2.task');
    const churn = run.pageCapable ? await storm(url, 'common-parent-idmap', taskDir, CHURN_SECONDS) : undefined;
    // Until the node's fast window (1 s samples) holds none of the churn.
    if (churn) await waitSamplesAt(url, (parseDuration(THRESHOLDS.fastWindow) as number) / 1000 + 1, 60_000);
    run.storms.push(await storm(url, 'per-layer-idmap', taskDir, STORM_SECONDS));
    if (churn) run.storms.push(churn);
    run.logs = readLogs();
    return run;
  } finally {
    await cri.call('StopPodSandbox', [[1, podId]]);
    await cri.call('RemovePodSandbox', [[1, podId]]);
  }
}

/** One run per distinct pod spec: overlays that differ only in their scrape object share it. */
function runFor(overlay: string): Promise<OverlayRun> {
  const key = JSON.stringify([daemonSet(overlay).spec, VARIANTS[overlay]?.hostTracefs ?? false]);
  let r = runs.get(key);
  if (!r) {
    r = runOverlay(overlay).then((x) => {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      fs.writeFileSync(
        path.join(ARTIFACTS, `image-${overlay}.json`),
        JSON.stringify({ ...x, image: image && { name: image.name, bytes: image.bytes } }, null, 2),
      );
      return x;
    });
    runs.set(key, r);
  }
  return r;
}

const maybe = testIf(ready, 'needs root, buildah, containerd, runc and busybox-static (scripts/setup-test.sh)');

beforeAll(async () => {
  if (!ready) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-image-'));
  image = await buildDockerfile(dir, (daemonSet('default').spec.containers[0] as { image: string }).image);
  ctd = await startContainerd(dir, { cri: { sandboxImage: PAUSE }, hostPid: true });
  await buildBusyboxImage(path.join(dir, 'pause.tar'), 1, PAUSE, ['/bin/sleep', '3600']);
  for (const t of [image.archive, path.join(dir, 'pause.tar')])
    await ctd.ctr(['-n', 'k8s.io', 'images', 'import', t], 300_000);
  cri = new CriClient(ctd.socket);
}, 900_000);

afterAll(async () => {
  if (!ready) return;
  cri?.close();
  await ctd?.stop();
  await removeBuild(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the image, run as each overlay’s DaemonSet pod under containerd', () => {
  maybe(
    'the image is the DaemonSet’s, built from the Dockerfile on the BASE argument, its production dependencies only',
    async () => {
      expect(image?.log).toMatch(/COMMIT ghcr\.io\/mountstorm\/mountstorm:/);
      const listing = await ctd!.ctr(['-n', 'k8s.io', 'images', 'ls', '-q']);
      expect(listing.split('\n')).toContain(image!.name);
      // Every file of every layer (the archive's <digest>.tar; <id>/layer.tar are links to them): the
      // build's output and the production dependencies, no dev one.
      const files = execFileSync(
        'sh',
        [
          '-c',
          'for l in $(tar -tf "$0" | grep -E "^[0-9a-f]+\\.tar$"); do tar -xOf "$0" "$l" | tar -t; done',
          image!.archive,
        ],
        { encoding: 'utf8', maxBuffer: 256 << 20 },
      ).split('\n');
      const has = (p: string) => files.some((f) => f.replace(/^\.\//, '').startsWith(p));
      const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
        devDependencies: Record<string, string>;
      };
      expect(has('app/dist/src/cli.js')).toBe(true);
      for (const dep of Object.keys(pkg.dependencies))
        expect({ dep, shipped: has(`app/node_modules/${dep}/`) }).toEqual({ dep, shipped: true });
      for (const dev of Object.keys(pkg.devDependencies))
        expect({ dev, shipped: has(`app/node_modules/${dev}/`) }).toEqual({ dev, shipped: false });
      expect(has('app/dist/test/')).toBe(false);
    },
  );

  for (const overlay of OVERLAYS) {
    const want = EXPECTED[overlay]!;
    maybe(
      `overlays/${overlay}: runs as ${want.user}${want.add.length ? ` with ${want.add.join(', ')}` : ', no capabilities'}; serves; collectors as deploy/README.md says; ${want.pages ? 'silent on common-parent churn, pages on a per-layer storm' : 'says it cannot page, and does not'}`,
      async () => {
        const r = await runFor(overlay);
        const c = r.podSpec.containers[0]!;
        expect(r.podSpec.securityContext?.runAsUser).toBe(want.user);
        expect(c.securityContext?.capabilities).toEqual(
          want.add.length ? { drop: ['ALL'], add: want.add } : { drop: ['ALL'] },
        );
        expect(r.healthz).toBe(200);
        expect(r.collectors).toEqual(want.collectors);
        // As nobody, containerd's 0711 task directory cannot be listed: no start is seen.
        expect(r.taskDirsWatched).toBe(want.starts === false ? 0 : 1);
        const [perLayer, churn] = r.storms;
        if (want.pages) {
          expect(churn).toMatchObject({ mode: 'common-parent-idmap', worst: 'inactive' });
          expect(churn!.startsPerSecond).toBeGreaterThan(perLayer!.startsPerSecond as number);
          expect({ capable: r.pageCapable, blocked: r.pageBlocked }).toEqual({ capable: 1, blocked: [] });
          expect(perLayer).toMatchObject({ mode: 'per-layer-idmap', worst: 'firing' });
          expect(r.logs).toMatch(/msg="node alert firing" alertname=MountStormImminent/);
        } else {
          expect({ capable: r.pageCapable, blocked: r.pageBlocked }).toEqual({
            capable: 0,
            blocked: ['no_container_starts', 'no_mount_signature'],
          });
          expect(r.logs).toMatch(
            /msg="the storm page cannot fire here" missing="no_mount_signature,no_container_starts"/,
          );
          expect(perLayer).toMatchObject({ mode: 'per-layer-idmap', worst: 'inactive' });
        }
        expect(perLayer!.containers).toBeGreaterThan(0);
        expect(r.logs).not.toMatch(/Cannot find module|level=error/);
        // The same, from the landing page's state.
        expect(r.page?.capable).toBe(want.pages);
        expect(r.page?.blockers.length).toBe(r.pageBlocked.length);
      },
      600_000,
    );
  }
});

describe('which privilege gives which signal: the default pod with fewer capabilities', () => {
  for (const [name, v] of Object.entries(VARIANTS)) {
    maybe(
      `root with ${v.caps.length ? v.caps.join(', ') + ' only' : 'no capabilities'}${v.hostTracefs ? ', tracefs mounted on the host' : ''}: ${v.want.pages ? 'pages' : 'cannot page'}${v.want.blocked.length ? ` (${v.want.blocked.join(', ')})` : ''}`,
      async () => {
        const r = await runFor(name);
        expect(r.healthz).toBe(200);
        expect({ collectors: r.collectors, blocked: r.pageBlocked }).toEqual({
          collectors: v.want.collectors,
          blocked: v.want.blocked,
        });
        expect(r.storms[0]?.worst).toBe(v.want.pages ? 'firing' : 'inactive');
        expect(r.storms[1]?.worst).toBe(v.want.pages ? 'inactive' : undefined);
      },
      600_000,
    );
  }
});

// The table deploy/README.md shows is the one this test checks.
test('deploy/README.md states each overlay as EXPECTED', () => {
  const readme = fs.readFileSync(path.join(REPO, 'deploy/README.md'), 'utf8');
  for (const [overlay, want] of Object.entries(EXPECTED)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${overlay}\``));
    expect({ overlay, row: row !== undefined }).toEqual({ overlay, row: true });
    expect(row).toContain(want.pages ? '| yes |' : '| **no** |');
    expect(row).toContain(want.user === 0 ? 'uid 0' : `uid ${want.user}`);
    for (const name of Object.keys(want.collectors)) expect(row).toContain(name);
  }
});
