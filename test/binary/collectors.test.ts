import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startExporter } from '../support/exporter';
import { FIXTURES } from '../support/env';
import { sum, total } from '../support/metrics';

describe('containers collector (inotify on a real directory)', () => {
  test('a missing task directory is no data; bundles appearing later are counted as starts', async () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-rootfs-');
    const exp = await startExporter([
      `--path.rootfs=${root}`,
      '--sample.interval=100ms',
      `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
    ]);
    try {
      let m = await exp.waitSamples(2);
      expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'containers' })).toBe(1);
      expect(sum(m, 'mountstorm_container_task_dirs_watched')).toBe(0);
      expect(sum(m, 'mountstorm_container_starts_total')).toBe(0);

      const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task');
      fs.mkdirSync(path.join(task, 'k8s.io/existing'), { recursive: true });
      m = await exp.waitSamples(3);
      expect(sum(m, 'mountstorm_container_task_dirs_watched')).toBe(1);
      expect(sum(m, 'mountstorm_container_starts_total')).toBe(0); // already there when watching began

      for (const id of ['a', 'b', 'c']) fs.mkdirSync(path.join(task, 'k8s.io', id));
      fs.mkdirSync(path.join(task, 'moby/d'), { recursive: true }); // a new runtime namespace and its first container
      fs.writeFileSync(path.join(task, 'k8s.io/a/config.json'), '{}'); // files are not starts
      const deadline = Date.now() + 10_000;
      while (sum(await exp.waitSamples(1), 'mountstorm_container_starts_total') < 4 && Date.now() < deadline);
      m = await exp.waitSamples(3);
      expect(sum(m, 'mountstorm_container_starts_total')).toBe(4);
    } finally {
      await exp.stop();
      fs.rmSync(root, { recursive: true });
    }
  });
});

describe('containers collector: each bundle read once (real files: CRI, ctr, hostile)', () => {
  const cri = (image: string, userns: boolean) =>
    JSON.stringify({
      ociVersion: '1.2.0',
      root: { path: 'rootfs' },
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.image-name': image,
        'io.kubernetes.cri.sandbox-namespace': 'shop',
        'io.kubernetes.cri.sandbox-name': 'web-0',
      },
      ...(userns ? { linux: { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] } } : {}),
    });

  /** Each condition within 40 s of samples, then two samples more: what the counts settle to. */
  const S = { timeoutMs: 40_000, settle: 2 };

  test('images, user namespaces and every kind of bad bundle counted exactly; the exporter serves on; each cause logged once', async () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-rootfs-');
    const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task');
    fs.mkdirSync(path.join(task, 'k8s.io'), { recursive: true });
    fs.mkdirSync(path.join(task, 'default'), { recursive: true });
    const exp = await startExporter([
      `--path.rootfs=${root}`,
      '--sample.interval=100ms',
      `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
    ]);
    const bundle = (ns: string, id: string, config?: string | Buffer) => {
      const d = path.join(task, ns, id);
      fs.mkdirSync(d);
      if (config !== undefined) fs.writeFileSync(path.join(d, 'config.json'), config);
      return d;
    };
    try {
      await exp.waitSamples(2);
      for (let i = 0; i < 3; i++) bundle('k8s.io', `web-${i}`, cri('registry.example/web:1', false));
      for (let i = 0; i < 2; i++) bundle('k8s.io', `db-${i}`, cri('registry.example/db:2', true));
      bundle(
        'default',
        'ctr-box',
        JSON.stringify({ root: { path: 'rootfs' }, linux: { namespaces: [{ type: 'user' }] } }),
      ); // ctr: no image named
      bundle('k8s.io', 'huge', Buffer.alloc(2 << 20, 0x20)); // 2 MiB of spaces
      bundle('k8s.io', 'truncated-1', cri('x', false).slice(0, 40)); // stays truncated
      bundle('k8s.io', 'truncated-2', cri('y', false).slice(0, 30));
      bundle('k8s.io', 'array', '[]');
      const link = bundle('k8s.io', 'symlink');
      fs.symlinkSync('/etc/passwd', path.join(link, 'config.json'));
      const dir = bundle('k8s.io', 'dir-config');
      fs.mkdirSync(path.join(dir, 'config.json'));
      bundle('k8s.io', 'no-config'); // the runtime never writes one
      const late = bundle('k8s.io', 'written-late');
      setTimeout(() => fs.writeFileSync(path.join(late, 'config.json'), cri('registry.example/web:1', false)), 300);

      const m = await exp.until(
        (x) =>
          total(x, 'mountstorm_container_starts_total') === 14 &&
          total(x, 'mountstorm_container_bundle_errors_total') === 7 &&
          total(x, 'mountstorm_container_image_starts_total') === 7,
        '14 starts, 7 read, 7 errors',
        S,
      );
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: 'registry.example/web:1' })).toBe(4);
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: 'registry.example/db:2' })).toBe(2);
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: 'unknown' })).toBe(1);
      expect(sum(m, 'mountstorm_container_userns_starts_total')).toBe(3);
      const reasons = Object.fromEntries(
        ['gone', 'not_a_file', 'too_large', 'not_json', 'not_an_object', 'unreadable'].map((r) => [
          r,
          sum(m, 'mountstorm_container_bundle_errors_total', { reason: r }),
        ]),
      );
      // gone: the one whose config.json never came; not_a_file: the symlink and the directory.
      expect(reasons).toEqual({ gone: 1, not_a_file: 2, too_large: 1, not_json: 2, not_an_object: 1, unreadable: 0 });
      expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'containers' })).toBe(1);
      const logged = exp.logs().match(/cannot read a container bundle \((\w+)\)/g) ?? [];
      expect([...logged].sort()).toEqual([...new Set(logged)].sort()); // once per cause
      expect(new Set(logged).size).toBe(5);
    } finally {
      await exp.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('--no-collector.containers.read-bundles: starts are counted, no bundle is read', async () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-rootfs-');
    const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io');
    fs.mkdirSync(task, { recursive: true });
    const exp = await startExporter([
      `--path.rootfs=${root}`,
      '--sample.interval=100ms',
      `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
      '--no-collector.containers.read-bundles',
    ]);
    try {
      await exp.waitSamples(2);
      for (const id of ['a', 'b']) {
        fs.mkdirSync(path.join(task, id));
        fs.writeFileSync(path.join(task, id, 'config.json'), cri('registry.example/web:1', true));
      }
      const m = await exp.until((x) => total(x, 'mountstorm_container_starts_total') === 2, '2 starts', S);
      expect(total(m, 'mountstorm_container_image_starts_total')).toBe(0);
      expect(total(m, 'mountstorm_container_userns_starts_total')).toBe(0);
      expect(total(m, 'mountstorm_container_bundle_errors_total')).toBe(0);
    } finally {
      await exp.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('1,000 distinct images started: image series stay within --collector.containers.image-series + 1, every start counted', async () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-rootfs-');
    const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task/k8s.io');
    fs.mkdirSync(task, { recursive: true });
    const exp = await startExporter([
      `--path.rootfs=${root}`,
      '--sample.interval=200ms',
      `--path.sysfs=${path.join(FIXTURES, 'sys')}`,
      '--collector.containers.image-series=5',
    ]);
    try {
      await exp.waitSamples(2);
      for (let i = 0; i < 1000; i++) {
        const d = path.join(task, `c${i}`);
        fs.mkdirSync(d);
        fs.writeFileSync(path.join(d, 'config.json'), cri(`registry.example/app-${i}:1`, false));
      }
      const m = await exp.until(
        (x) => total(x, 'mountstorm_container_image_starts_total') === 1000,
        '1000 image starts',
        S,
      );
      const series = m.filter((x) => x.name === 'mountstorm_container_image_starts_total');
      expect(series.length).toBeLessThanOrEqual(6);
      expect(series.length).toBeGreaterThan(1);
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: 'other' })).toBeGreaterThanOrEqual(995);
      expect(sum(m, 'mountstorm_container_starts_total')).toBe(1000);
    } finally {
      await exp.stop();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('namespaces collector on the real /proc', () => {
  test('processes exiting during the scan never fail the collector', async () => {
    // In the host's namespaces: no tracefs (it would mount one on the host's /sys/kernel/tracing).
    const exp = await startExporter(['--sample.interval=100ms', '--no-collector.containers', '--no-collector.tracefs']);
    try {
      const churn = spawn('sh', ['-c', 'for i in $(seq 1 300); do (sleep 0.01 &) ; done; wait']);
      await new Promise((r) => churn.on('exit', r));
      const m = await exp.waitSamples(3);
      expect(sum(m, 'mountstorm_sample_collector_success', { collector: 'namespaces' })).toBe(1);
      expect(sum(m, 'mountstorm_mount_namespaces')).toBeGreaterThanOrEqual(1);
      expect(exp.logs()).not.toMatch(/collector=namespaces/);
    } finally {
      await exp.stop();
    }
  });
});
