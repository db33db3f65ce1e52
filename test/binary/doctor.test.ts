/** `mountstorm doctor` on fixture trees (the real machine: test/kernel/doctor.test.ts). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Diagnosis } from '../../src/doctor/diagnose';
import { CLI, FIXTURES } from '../support/env';
import { FIXTURE_ARGS } from '../support/fixtures';
import { bundle } from '../support/overlay-bundle';

function doctor(args: string[], wrap: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...rest] = [...wrap, process.execPath, CLI, 'doctor', ...args];
  return spawnSync(cmd as string, rest, { encoding: 'utf8' });
}

describe('fixture host: r5.metal (2 sockets, 2 NUMA nodes, SMT on) with 12-layer idmapped overlays', () => {
  const args = FIXTURE_ARGS.filter((a) => !a.startsWith('--sample'));

  test('JSON: topology, table, layer depth distribution, idmapped mounts; high risk exits 3', () => {
    const r = doctor([...args, '--json']);
    expect(r.status).toBe(3);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.host).toMatchObject({
      systemVendor: 'Amazon EC2',
      systemModel: 'r5.metal',
      cpus: 96,
      sockets: 2,
      numaNodes: 2,
      smt: true,
    });
    const lines = fs.readFileSync(path.join(FIXTURES, 'proc/1/mountinfo'), 'utf8').trim().split('\n').length;
    expect(d.mountTable.mounts).toBe(lines);
    expect(d.mountTable.mountMax).toBe(100000);
    expect(d.mountTable.overlays).toBe(3);
    expect(d.deepestOverlay).toBe(12);
    expect(d.layerDepth).toEqual({ '1': 0, '2-5': 1, '6-10': 1, '11-20': 1, '21-50': 0, '>50': 0 });
    expect(d.mountTable.idmapped).toBe(12);
    expect(d.risk).toBe('high');
    expect(d.findings[0]).toMatchObject({ risk: 'high' });
    expect(d.findings[0]?.what).toMatch(/12 layers.*2 sockets, 2 NUMA nodes, SMT on/);
    // A fixture tree says nothing about the running kernel: no syscall probes.
    expect(d.features.listmount_statmount.available).toBe('unknown');
    expect(d.collectors.containers?.works).toBe(true);
  });

  test('text for people names the risk and the advice', () => {
    const r = doctor(args);
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/^mountstorm doctor — risk: HIGH/);
    expect(r.stdout).toMatch(/\[high\] deep-layer images/);
    expect(r.stdout).toMatch(/→ use a runtime that idmaps the common parent once/);
    expect(r.stdout).toMatch(/overlay depth: 1: 0, 2-5: 1, 6-10: 1, 11-20: 1/);
  });

  test("the containers running by image, their overlays' layers from the table, and the images starting now by starts × layers", () => {
    // Bundles made now in a copy of the fixture root, at the fixture table's overlay mount points
    // (pod1 2 layers, pod2 10, pod3 12), and one whose rootfs is no mount there.
    const root = fs.mkdtempSync('/tmp/mountstorm-doctor-rootfs-');
    try {
      const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task');
      const bundles: Array<[string, string]> = [
        ['pod1', 'registry.example/web:1'],
        ['pod2', 'registry.example/web:1'],
        ['pod3', 'registry.example/db:2'],
        ['pod4', 'registry.example/db:2'],
      ];
      for (const [id, image] of bundles) bundle(task, 'k8s.io', id, image);
      const withRoot = [...args.filter((a) => !a.startsWith('--path.rootfs')), `--path.rootfs=${root}`];
      const d = JSON.parse(doctor([...withRoot, '--json']).stdout) as Diagnosis;
      const layers = (id: string) => {
        const m = fs
          .readFileSync(path.join(FIXTURES, 'proc/1/mountinfo'), 'utf8')
          .split('\n')
          .find((l) => l.includes(`/k8s.io/${id}/rootfs `));
        return m ? (/lowerdir=([^, ]+)/.exec(m)?.[1] ?? '').split(':').length : undefined;
      };
      expect(d.containers.running).toBe(4);
      expect(d.containers.images).toEqual([
        {
          image: 'registry.example/db:2',
          containers: 2,
          userNamespace: 0,
          layers: layers('pod3'),
          recentStarts: 2,
          maskedPaths: 0,
          perCpuMaskedPaths: 0,
        },
        {
          image: 'registry.example/web:1',
          containers: 2,
          userNamespace: 0,
          layers: Math.max(layers('pod1') ?? 0, layers('pod2') ?? 0),
          recentStarts: 2,
          maskedPaths: 0,
          perCpuMaskedPaths: 0,
        },
      ]);
      const text = doctor(withRoot).stdout;
      const section = text.slice(
        text.indexOf('Images driving mount churn now'),
        text.indexOf('Deepest images running'),
      );
      // db: 2 starts × 12 layers before web: 2 × its deepest.
      expect(
        section
          .split('\n')
          .slice(1, 3)
          .map((l) => l.trim().split(/\s+/)[1]),
      ).toEqual(['registry.example/db:2', 'registry.example/web:1']);
      expect(section).toContain(`${2 * (layers('pod3') as number)} layers mounted`);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('what a container start costs here: the per-CPU masks of the containers running, one mount each', () => {
    const root = fs.mkdtempSync('/tmp/mountstorm-doctor-masks-');
    try {
      const task = path.join(root, 'run/containerd/io.containerd.runtime.v2.task');
      // As kubelet asks on a 96-CPU host: the runtime's defaults and one thermal_throttle per CPU.
      const masked = [
        '/proc/kcore',
        '/sys/firmware',
        ...Array.from({ length: 96 }, (_, n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`),
      ];
      const b = bundle(task, 'k8s.io', 'masked1', 'registry.example/app:3');
      fs.writeFileSync(
        path.join(b, 'config.json'),
        JSON.stringify({
          annotations: { 'io.kubernetes.cri.image-name': 'registry.example/app:3' },
          linux: { maskedPaths: masked },
        }),
      );
      const withRoot = [...args.filter((a) => !a.startsWith('--path.rootfs')), `--path.rootfs=${root}`];
      const d = JSON.parse(doctor([...withRoot, '--json']).stdout) as Diagnosis;
      expect(d.startCost).toMatchObject({ cpus: d.host.cpus, maskedPaths: 98, perCpuMaskedPaths: 96 });
      expect(d.findings.map((f) => f.what)).toContainEqual(
        expect.stringMatching(/^containers here mask 98 paths each \(96 of them one per CPU/),
      );
      const text = doctor(withRoot).stdout;
      expect(text).toContain('What a container start costs here');
      expect(text).toContain(`per-CPU masks (kubelet and containerd since 2025-2026): ${d.host.cpus} mounts per start`);
      expect(text).toContain('masked paths of the containers running: 98 at most (96 of them per CPU)');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a missing mountinfo is a finding, not a crash', () => {
    const r = doctor([...args, '--mount.pid=999999', '--json']);
    const d = JSON.parse(r.stdout) as Diagnosis;
    expect(d.mountTable.error).toMatch(/999999\/mountinfo: ENOENT/);
    expect(d.collectors.mounts?.works).toBe(false);
  });

  test('bad flags exit 2 with the flag named; --help lists the flags', () => {
    const bad = doctor(['--nope']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown flag --nope/);
    const help = doctor(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--json/);
    expect(help.stdout).toMatch(/Exits 3 when the risk is high/);
  });
});
