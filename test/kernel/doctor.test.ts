/** `mountstorm doctor` on this machine: a private namespace with a real overlay, the kernel's features probed. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Diagnosis } from '../../src/doctor/diagnose';
import { CLI, IS_ROOT, requireInCi, testIf } from '../support/env';

describe('the real machine', () => {
  requireInCi(IS_ROOT, 'root for the doctor on the real machine');
  testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for real mounts and the kernel feature probes')(
    'a private namespace with a 15-layer overlay: counts match the kernel, kernel features probed',
    () => {
      const dir = fs.mkdtempSync('/tmp/mountstorm-doctor-test-');
      try {
        const layers = Array.from({ length: 15 }, (_, i) => `${dir}/l${i}`);
        const script = `mount -t tmpfs t ${dir}; mkdir -p ${layers.join(' ')} ${dir}/u ${dir}/w ${dir}/m
          mount -t overlay o -o lowerdir=${layers.join(':')},upperdir=${dir}/u,workdir=${dir}/w ${dir}/m
          wc -l < /proc/self/mountinfo >&2
          exec ${process.execPath} ${CLI} doctor --mount.pid=self --json`;
        const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', script], {
          encoding: 'utf8',
        });
        const d = JSON.parse(r.stdout) as Diagnosis;
        // The doctor (node) reads its own table, which is the shell's plus nothing: same namespace.
        expect(d.mountTable.mounts).toBe(Number(r.stderr.trim()));
        expect(d.mountTable.overlays).toBe(1);
        expect(d.deepestOverlay).toBe(15);
        expect(d.layerDepth['11-20']).toBe(1);
        expect(d.host.sockets).toBeGreaterThanOrEqual(1);
        // This kernel (6.x, tracefs and lock tracepoints present, listmount from 6.8).
        expect(d.features.syscall_tracepoints.available).toBe('yes');
        expect(d.features.lock_contention_tracepoints.available).toBe('yes');
        expect(['yes', 'no']).toContain(d.features.listmount_statmount.available);
        // 6.12+: the size without reading the table, and (root in the initial PID namespace) the walk.
        expect(d.features.nsfs_mount_info.available).toBe('yes');
        expect(d.features.nsfs_namespace_walk.available).toBe('yes');
        expect(d.features.fanotify_mount_events.available).toBe('yes');
        expect(d.collectors.tracefs?.works).toBe(true);
        expect(d.collectors.mounts?.works).toBe(true);
        // Deep layers on a single-socket, SMT-off host are a medium risk: exit 0.
        if (d.host.sockets === 1 && !d.host.smt) {
          expect(d.risk).toBe('medium');
          expect(r.status).toBe(0);
        }
        expect(fs.readdirSync('/tmp').filter((n) => n.startsWith('mountstorm-doctor-') && !dir.endsWith(n))).toEqual(
          [],
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
