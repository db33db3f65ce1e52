/**
 * Leaked temporary idmapped mounts, on the real kernel: an idmapped bind mount (open_tree,
 * mount_setattr, move_mount, as a runtime makes them: test/support/idmap-mount.ts) made in the exporter's own mount namespace and left there counts as lingering once
 * it has been there longer than --collector.mounts.idmap-linger; idmapped mounts made and removed at
 * once, as a runtime's are during a start, never do. Both ways of reading the table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { inMountNamespace, startExporter, type RunningExporter } from '../support/exporter';
import { has, sum, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for real (idmapped) mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for idmapped mounts');
const IDMAP = path.join(REPO, 'dist/test/support/idmap-mount.js');

async function until(exp: RunningExporter, cond: (m: Sample[]) => boolean, what: string): Promise<Sample[]> {
  for (let i = 0; ; i++) {
    const m = await exp.waitSamples(1);
    if (cond(m)) return m;
    if (i > 100) throw new Error(`never: ${what}`);
  }
}

describe.each(['listmount', 'mountinfo'])('idmapped mounts that outlive their start (%s)', (method) => {
  rootTest('one left behind lingers after the linger time and is counted until it goes; brief ones never count', async () => {
    const exp = await startExporter(['--sample.interval=200ms', '--no-collector.containers', '--no-collector.tracefs', '--no-collector.namespaces', `--collector.mounts.method=${method}`, '--collector.mounts.idmap-linger=2s'], { ownMountNamespace: true });
    const dir = fs.mkdtempSync('/tmp/mountstorm-idmap-');
    try {
      const m0 = await until(exp, (m) => has(m, 'mountstorm_idmapped_mounts_lingering'), 'the gauge');
      expect(sum(m0, 'mountstorm_idmapped_mounts_lingering')).toBe(0);
      inMountNamespace(exp, `mount -t tmpfs base ${dir}; mkdir ${dir}/src ${dir}/left ${dir}/brief`);
      // Brief ones, as a runtime makes them per layer: made and unmounted at once, 20 times.
      inMountNamespace(exp, `${process.execPath} ${IDMAP} brief ${dir}/src ${dir}/brief 20`);
      // One left behind.
      inMountNamespace(exp, `${process.execPath} ${IDMAP} leave ${dir}/src ${dir}/left`);
      const seen = await until(exp, (m) => sum(m, 'mountstorm_idmapped_mounts') === 1, 'the idmapped mount in a reading');
      expect(sum(seen, 'mountstorm_idmapped_mounts_lingering')).toBe(0); // younger than 2 s
      const lingering = await until(exp, (m) => sum(m, 'mountstorm_idmapped_mounts_lingering') === 1, 'the mount lingering');
      expect(sum(lingering, 'mountstorm_idmapped_mounts_older_than', { age: '1m' })).toBe(0); // 2 s old
      inMountNamespace(exp, `umount ${dir}/left`);
      const gone = await until(exp, (m) => sum(m, 'mountstorm_idmapped_mounts') === 0, 'the mount gone');
      expect(sum(gone, 'mountstorm_idmapped_mounts_lingering')).toBe(0);
      expect(sum(gone, 'mountstorm_idmapped_mounts_older_than', { age: '1m' })).toBe(0);
    } finally {
      await exp.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
