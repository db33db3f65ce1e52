/**
 * Leaked temporary idmapped mounts, on the real kernel: an idmapped bind mount (open_tree,
 * mount_setattr, move_mount, as a runtime makes them: test/support/idmap-mount.ts) made in the exporter's own mount namespace and left there counts as lingering once
 * it has been there longer than --collector.mounts.idmap-linger; idmapped mounts made and removed at
 * once, as a runtime's are during a start, never do. A runtime's temporary mounts told by their mount
 * point (containerd's tmpmounts/containerd-mount*, ovl-idmapped*) age the same way. Both ways of
 * reading the table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';
import { inMountNamespace, startExporter } from '../support/exporter';
import { has, sum, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for real (idmapped) mounts');
const rootTest = testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for idmapped mounts');
const IDMAP = path.join(REPO, 'dist/test/support/idmap-mount.js');

/** How long each condition may take: 20 s of 200 ms samples. */
const T = { timeoutMs: 20_000 };

describe.each(['listmount', 'mountinfo'])('idmapped mounts that outlive their start (%s)', (method) => {
  rootTest(
    'one left behind lingers after the linger time and is counted until it goes; brief ones never count',
    async () => {
      const exp = await startExporter(
        [
          '--sample.interval=200ms',
          '--no-collector.containers',
          '--no-collector.tracefs',
          '--no-collector.namespaces',
          `--collector.mounts.method=${method}`,
          '--collector.mounts.idmap-linger=2s',
        ],
        { ownMountNamespace: true },
      );
      const dir = fs.mkdtempSync('/tmp/mountstorm-idmap-');
      try {
        const m0 = await exp.until((m) => has(m, 'mountstorm_idmapped_mounts_lingering'), 'the gauge', T);
        expect(sum(m0, 'mountstorm_idmapped_mounts_lingering')).toBe(0);
        inMountNamespace(exp, `mount -t tmpfs base ${dir}; mkdir ${dir}/src ${dir}/left ${dir}/brief`);
        // Brief ones, as a runtime makes them per layer: made and unmounted at once, 20 times.
        inMountNamespace(exp, `${process.execPath} ${IDMAP} brief ${dir}/src ${dir}/brief 20`);
        // One left behind.
        inMountNamespace(exp, `${process.execPath} ${IDMAP} leave ${dir}/src ${dir}/left`);
        const seen = await exp.until(
          (m) => sum(m, 'mountstorm_idmapped_mounts') === 1,
          'the idmapped mount in a reading',
          T,
        );
        expect(sum(seen, 'mountstorm_idmapped_mounts_lingering')).toBe(0); // younger than 2 s
        const lingering = await exp.until(
          (m) => sum(m, 'mountstorm_idmapped_mounts_lingering') === 1,
          'the mount lingering',
          T,
        );
        expect(sum(lingering, 'mountstorm_idmapped_mounts_older_than', { age: '1m' })).toBe(0); // 2 s old
        inMountNamespace(exp, `umount ${dir}/left`);
        const gone = await exp.until((m) => sum(m, 'mountstorm_idmapped_mounts') === 0, 'the mount gone', T);
        expect(sum(gone, 'mountstorm_idmapped_mounts_lingering')).toBe(0);
        expect(sum(gone, 'mountstorm_idmapped_mounts_older_than', { age: '1m' })).toBe(0);
      } finally {
        await exp.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );
});

describe.each(['listmount', 'mountinfo'])(
  "a container runtime's temporary mounts that outlive their start (%s)",
  (method) => {
    rootTest(
      "told by mount point (containerd's tmpmounts/containerd-mount*, ovl-idmapped*): the ones left behind linger; brief ones and look-alikes never count",
      async () => {
        const exp = await startExporter(
          [
            '--sample.interval=200ms',
            '--no-collector.containers',
            '--no-collector.tracefs',
            '--no-collector.namespaces',
            `--collector.mounts.method=${method}`,
            '--collector.mounts.idmap-linger=2s',
          ],
          { ownMountNamespace: true },
        );
        const dir = fs.mkdtempSync('/tmp/mountstorm-tmpmounts-');
        const lingering = (m: Sample[]) => sum(m, 'mountstorm_runtime_temp_mounts_lingering');
        try {
          await exp.until((m) => has(m, 'mountstorm_runtime_temp_mounts_lingering'), 'the gauge', T);
          // containerd's root, with its temporary mount directory; a look-alike beside it.
          const tmp = `${dir}/var/lib/containerd/tmpmounts`;
          inMountNamespace(
            exp,
            `mount -t tmpfs base ${dir}; mkdir -p ${tmp}/containerd-mount111 ${tmp}/containerd-mount222 ${dir}/snap/ovl-idmapped333 ${dir}/notmp/containerd-mount444`,
          );
          // Brief ones, as a start makes them: mounted and unmounted at once, 20 times.
          inMountNamespace(
            exp,
            `for i in $(seq 20); do mount -t tmpfs t ${tmp}/containerd-mount111 && umount ${tmp}/containerd-mount111; done`,
          );
          // Two left behind, and a mount at a containerd-mount* directory outside tmpmounts (not the runtime's).
          inMountNamespace(
            exp,
            `mount -t tmpfs t ${tmp}/containerd-mount222; mount --bind ${dir}/notmp ${dir}/snap/ovl-idmapped333; mount -t tmpfs t ${dir}/notmp/containerd-mount444`,
          );
          const seen = await exp.until(
            (m) => sum(m, 'mountstorm_mounts', { fstype: 'tmpfs' }) >= 3,
            'the mounts in a reading',
            T,
          );
          expect(lingering(seen)).toBe(0); // younger than 2 s
          const left = await exp.until((m) => lingering(m) === 2, 'the two lingering', T);
          expect(sum(left, 'mountstorm_runtime_temp_mounts_older_than', { age: '1m' })).toBe(0);
          expect(sum(left, 'mountstorm_idmapped_mounts_lingering')).toBe(0); // not idmapped ones
          await exp.waitSamples(3);
          expect(lingering(await exp.metrics())).toBe(2); // not the look-alike, whatever the wait
          inMountNamespace(exp, `umount ${tmp}/containerd-mount222 ${dir}/snap/ovl-idmapped333`);
          const gone = await exp.until((m) => lingering(m) === 0, 'the leftovers gone', T);
          expect(sum(gone, 'mountstorm_runtime_temp_mounts_older_than', { age: '1m' })).toBe(0);
        } finally {
          await exp.stop();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
      60_000,
    );
  },
);
