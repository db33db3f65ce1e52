import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { startExporter } from '../support/exporter';
import { FIXTURES } from '../support/env';
import { sum } from '../support/metrics';

describe('containers collector (chokidar on a real directory)', () => {
  test('a missing task directory is no data; bundles appearing later are counted as starts', async () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-rootfs-');
    const exp = await startExporter([`--path.rootfs=${root}`, '--sample.interval=100ms', `--path.sysfs=${path.join(FIXTURES, 'sys')}`]);
    try {
      let m = await exp.waitSamples(2);
      expect(sum(m, 'mountstorm_scrape_collector_success', { collector: 'containers' })).toBe(1);
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

describe('namespaces collector on the real /proc', () => {
  test('processes exiting during the scan never fail the collector', async () => {
    // In the host's namespaces: no tracefs (it would mount one on the host's /sys/kernel/tracing).
    const exp = await startExporter(['--sample.interval=100ms', '--no-collector.containers', '--no-collector.tracefs']);
    try {
      const churn = spawn('sh', ['-c', 'for i in $(seq 1 300); do (sleep 0.01 &) ; done; wait']);
      await new Promise((r) => churn.on('exit', r));
      const m = await exp.waitSamples(3);
      expect(sum(m, 'mountstorm_scrape_collector_success', { collector: 'namespaces' })).toBe(1);
      expect(sum(m, 'mountstorm_mount_namespaces')).toBeGreaterThanOrEqual(1);
      expect(exp.logs()).not.toMatch(/collector=namespaces/);
    } finally {
      await exp.stop();
    }
  });
});
