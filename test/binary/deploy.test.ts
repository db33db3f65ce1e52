/**
 * deploy/: every Kubernetes manifest validated against the Kubernetes and Prometheus Operator
 * schemas (no cluster here), the least-privilege settings of each overlay, the PrometheusRule's
 * rules through promtool, the DaemonSet's and the systemd unit's flags through the exporter's own
 * parser, the systemd unit through systemd-analyze, and the Dockerfile through a lint of its own
 * (test/e2e/image.test.ts builds it and runs it under containerd as each overlay's pod).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { renderPrometheusRule } from '../../src/alerts/render';
import { DEFAULT_STORAGE_DIRS, DEFAULT_TASK_DIRS } from '../../src/oci/runtimes';
import { loadConfig, parseArgs } from '../../src/config';
import { loadClientConfig } from '../../src/notify/config';
import { REPO, hasCommand, requireInCi, testIf } from '../support/env';
import { kustomizeBuild, type K8sObject } from '../support/kustomize';

const K8S = path.join(REPO, 'deploy/kubernetes');
const OVERLAYS = ['default', 'podmonitor', 'tracefs', 'restricted', 'node-alerts'];
/** The overlays that can page on a storm; restricted cannot (test/e2e/image.test.ts runs each). */
const PRIVILEGED = ['default', 'podmonitor', 'tracefs', 'node-alerts'];

function validate(objs: K8sObject[]): Array<{ kind: string; name: string; error: string | null }> {
  const r = spawnSync(process.execPath, [path.join(REPO, 'test/support/validate-k8s.mjs')], {
    input: JSON.stringify(objs),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Array<{ kind: string; name: string; error: string | null }>;
}

type Container = {
  args: string[];
  securityContext: {
    capabilities: { drop?: string[]; add?: string[] };
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
  };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  resources: { requests: object; limits: object };
};
type PodSpec = {
  hostPID: boolean;
  securityContext: { runAsNonRoot: boolean; runAsUser: number };
  containers: Container[];
  tolerations: object[];
  priorityClassName: string;
  volumes: { name: string; hostPath: { path: string } }[];
};
const podSpec = (objs: K8sObject[]) =>
  (objs.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

describe.each(OVERLAYS)('overlays/%s', (overlay) => {
  const objs = kustomizeBuild(path.join(K8S, 'overlays', overlay));

  // The published schemas accept unknown fields (as the API server does without strict field
  // validation), so the settings that matter are also asserted field by field below.
  test('every object validates against the Kubernetes / Prometheus Operator schema', () => {
    const results = validate(objs);
    expect(results.length).toBe(objs.length);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
    const kinds = objs.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      expect.arrayContaining([
        'DaemonSet',
        'Namespace',
        'NetworkPolicy',
        'PrometheusRule',
        'Service',
        'ServiceAccount',
      ]),
    );
    expect(kinds).toContain(overlay === 'podmonitor' ? 'PodMonitor' : 'ServiceMonitor');
    expect(kinds).not.toContain(overlay === 'podmonitor' ? 'ServiceMonitor' : 'PodMonitor');
    for (const o of objs) if (o.kind !== 'Namespace') expect(o.metadata.namespace).toBe('mountstorm');
  });

  test('the DaemonSet: hostPID, host /proc and /sys read-only under /host, resources, tolerations, priority, no extra privilege', () => {
    const spec = podSpec(objs);
    const c = spec.containers[0] as Container;
    expect(spec.hostPID).toBe(true);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits).toBeDefined();
    for (const [name, at] of [
      ['proc', '/host/proc'],
      ['sys', '/host/sys'],
    ])
      expect(c.volumeMounts).toContainEqual({ name, mountPath: at, readOnly: true });
    // Every runtime directory the exporter looks for by default is the host's, read-only, under
    // --path.rootfs: a runtime the pod cannot see would count no starts on its nodes.
    for (const dir of [...DEFAULT_TASK_DIRS, ...DEFAULT_STORAGE_DIRS]) {
      const under = c.volumeMounts.filter((m) => `${dir}/`.startsWith(`${m.mountPath.replace(/^\/host\/root/, '')}/`));
      expect(under.map((m) => [m.mountPath.startsWith('/host/root/'), m.readOnly])).toEqual([[true, true]]);
      // No propagation: the runtime's later mounts are never copied into the exporter's namespace.
      expect(under[0]).not.toHaveProperty('mountPropagation');
      const host = spec.volumes.find((v) => v.name === under[0]?.name)?.hostPath.path;
      expect(under[0]?.mountPath).toBe(`/host/root${host}`);
    }
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    // Its flags are the exporter's own: parsed by the same code, so a renamed flag fails here.
    const cfg = loadConfig(parseArgs(c.args.slice(1)), {});
    expect(cfg.paths).toEqual({ procfs: '/host/proc', sysfs: '/host/sys', rootfs: '/host/root' });
    if (PRIVILEGED.includes(overlay)) {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: false, runAsUser: 0 });
      expect(c.securityContext.capabilities.add).toEqual(['SYS_ADMIN', 'SYS_PTRACE']);
      expect(cfg.collectors.tracefs).toBe(true);
      expect(c.volumeMounts).toContainEqual({ name: 'tracefs', mountPath: '/host/sys/kernel/tracing' });
      expect(spec.volumes).toContainEqual({
        name: 'tracefs',
        hostPath: { path: '/sys/kernel/tracing', type: 'Directory' },
      });
    } else {
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
      expect(c.securityContext.capabilities.add).toBeUndefined();
      expect(cfg.collectors.tracefs).toBe(false);
      expect(c.volumeMounts.map((m) => m.name)).not.toContain('tracefs');
      expect(spec.volumes.map((v) => v.name)).not.toContain('tracefs');
    }
  });

  test('scraped every 5 s (the alerts’ timing budget), instance = node name', () => {
    const mon = objs.find((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor') as unknown as {
      spec: { endpoints?: object[]; podMetricsEndpoints?: object[] };
    };
    const ep = (mon.spec.endpoints ?? mon.spec.podMetricsEndpoints ?? [])[0] as {
      interval: string;
      relabelings: { targetLabel: string }[];
    };
    expect(ep.interval).toBe('5s');
    expect(ep.relabelings).toContainEqual(expect.objectContaining({ targetLabel: 'instance' }));
  });
});

describe('overlays/node-alerts', () => {
  const objs = kustomizeBuild(path.join(K8S, 'overlays', 'node-alerts'));
  const spec = podSpec(objs) as unknown as Omit<PodSpec, 'volumes'> & {
    volumes: { name: string; secret?: { secretName: string } }[];
  };
  const c = spec.containers[0] as Container & {
    env: { name: string; valueFrom: { fieldRef: { fieldPath: string } } }[];
  };

  test('the node posts its alerts: the URL, NODE_NAME from the downward API as the instance, the config from a Secret mounted read-only', () => {
    const cfg = loadConfig(parseArgs(c.args.slice(1)), { NODE_NAME: 'worker-7' });
    expect(cfg.alertmanager.urls).toEqual(['http://alertmanager-operated.monitoring.svc:9093']);
    expect(cfg.alertmanager.instance).toBe('worker-7');
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(cfg.alertmanager.configFile).toBe('/etc/mountstorm/alertmanager/config.yml');
    expect(c.volumeMounts).toContainEqual({
      name: 'alertmanager',
      mountPath: '/etc/mountstorm/alertmanager',
      readOnly: true,
    });
    const vol = spec.volumes.find((v) => v.name === 'alertmanager');
    expect(vol?.secret?.secretName).toBe('mountstorm-alertmanager');
    const secret = objs.find((o) => o.kind === 'Secret') as unknown as {
      metadata: { name: string };
      stringData: Record<string, string>;
    };
    expect(secret.metadata.name).toBe('mountstorm-alertmanager');
    // The shipped config.yml is one the exporter accepts.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-amsecret-')), 'config.yml');
    fs.writeFileSync(file, secret.stringData['config.yml'] as string);
    try {
      expect(loadClientConfig(file).timeoutMs).toBe(5000);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });

  test('egress only to Alertmanager (9093) and the cluster DNS; ingress unchanged', () => {
    const np = objs.find((o) => o.kind === 'NetworkPolicy') as unknown as {
      spec: {
        egress: {
          to: { podSelector: { matchLabels: Record<string, string> } }[];
          ports: { port: number; protocol: string }[];
        }[];
        ingress: unknown[];
      };
    };
    expect(np.spec.egress).toHaveLength(2);
    expect(np.spec.egress[0]?.to[0]?.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'alertmanager' });
    expect(np.spec.egress[0]?.ports).toEqual([{ port: 9093, protocol: 'TCP' }]);
    expect(np.spec.egress[1]?.ports.map((p) => p.port)).toEqual([53, 53]);
    expect(np.spec.ingress).toHaveLength(1);
  });
});

describe('the PrometheusRule', () => {
  test('is rendered from src/alerts (npm run render-alerts)', () => {
    expect(fs.readFileSync(path.join(K8S, 'base/prometheusrule.yaml'), 'utf8')).toBe(renderPrometheusRule());
  });

  requireInCi(hasCommand('promtool'), 'promtool');
  testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)')(
    'promtool check rules on its embedded groups',
    () => {
      const rule = yaml.load(fs.readFileSync(path.join(K8S, 'base/prometheusrule.yaml'), 'utf8')) as {
        spec: { groups: unknown[] };
      };
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-rule-')), 'rules.yaml');
      fs.writeFileSync(file, yaml.dump({ groups: rule.spec.groups }));
      try {
        expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toMatch(
          /SUCCESS: \d+ rules found/,
        );
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true });
      }
    },
  );
});

// kubectl is not installed by setup-test.sh (Debian 12 has no kubectl with a current kustomize);
// where it exists, the test builder above must agree with the real one.
testIf(hasCommand('kubectl'), 'kubectl not installed: the real kustomize is not compared')(
  'the test builder gives what `kubectl kustomize` gives',
  () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
    for (const overlay of OVERLAYS) {
      const real = (
        yaml.loadAll(
          execFileSync('kubectl', ['kustomize', path.join(K8S, 'overlays', overlay)], { encoding: 'utf8' }),
        ) as K8sObject[]
      ).sort((a, b) => key(a).localeCompare(key(b)));
      const ours = kustomizeBuild(path.join(K8S, 'overlays', overlay)).sort((a, b) => key(a).localeCompare(key(b)));
      expect(ours).toEqual(real);
    }
  },
);

describe('systemd unit', () => {
  const unit = fs.readFileSync(path.join(REPO, 'deploy/systemd/mountstorm.service'), 'utf8');

  requireInCi(hasCommand('systemd-analyze'), 'systemd-analyze');
  testIf(hasCommand('systemd-analyze'), 'systemd-analyze not installed')('systemd-analyze verify accepts it', () => {
    const r = spawnSync('systemd-analyze', ['verify', path.join(REPO, 'deploy/systemd/mountstorm.service')], {
      encoding: 'utf8',
    });
    expect(r.stderr.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  test('hardened, and its ExecStart flags are the exporter’s own', () => {
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
      'ReadWritePaths=/sys/kernel/tracing',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    ]) {
      expect(unit).toContain(`\n${line}\n`);
    }
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.split(/\s+/) ?? [];
    expect(exec.slice(0, 3)).toEqual(['/usr/bin/node', '/opt/mountstorm/dist/src/cli.js', 'serve']);
    expect(() => loadConfig(parseArgs(exec.slice(3)), {})).not.toThrow();
  });
});

describe('Dockerfile', () => {
  const text = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));

  test('lint: multi-stage, pinned base, non-root numeric user last, exec-form entrypoint, no ADD of URLs, no latest', () => {
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    // The base is a build argument (the tests build on a local one) whose default is pinned.
    const base = /^ARG BASE=(\S+)$/m.exec(text)?.[1];
    expect(base).toMatch(/^[\w./-]+:\d[\w.-]*$/);
    expect(base).not.toMatch(/:latest/);
    for (const f of froms) expect(f).toMatch(/^FROM (\$\{BASE\}|\S+:\d[\w.-]*)(\s+AS \w+)?$/);
    const final = lines.slice(lines.lastIndexOf(froms[froms.length - 1] as string));
    const user = final.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
    expect(final.some((l) => /^COPY --from=build/.test(l))).toBe(true);
    expect(final.some((l) => /^RUN npm (ci|install)/.test(l))).toBe(false); // no toolchain in the image
    expect(lines.filter((l) => /^ADD\s+https?:/.test(l))).toEqual([]);
    expect(text).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/src\/cli\.js"\]$/m);
    expect(text).toMatch(/^EXPOSE 9866$/m);
    // Everything the build stage copies exists, and .dockerignore keeps local builds out.
    for (const m of text.matchAll(/^COPY (?!--from)([^\n]+) \.\/?\S*$/gm))
      for (const src of (m[1] as string).split(/\s+/)) expect(fs.existsSync(path.join(REPO, src))).toBe(true);
    expect(fs.readFileSync(path.join(REPO, '.dockerignore'), 'utf8')).toMatch(/^node_modules$/m);
  });
});
