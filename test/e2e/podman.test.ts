/**
 * A second runtime, found without configuration: Debian's podman (4.3, runc) on a private node
 * (test/support/podman.ts: its containers/storage on tmpfs at the default paths), the exporter on
 * its defaults in the node's mount namespace. Containers of a 5-layer image built here (no
 * registry), some user-namespaced: every start counted as podman's, exactly; the image named from
 * the store's containers.json (Podman keeps it out of the spec); each rootfs overlay's layers found;
 * the mount syscalls of the start by process and step. Then the kernel's start signal: an exporter
 * given no runtime directory counts the same starts as new mount namespaces.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildImage } from '../support/containerd';
import { startExporter, type RunningExporter } from '../support/exporter';
import { CLI, IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import { sum, type Sample } from '../support/metrics';
import { RUN_FLAGS, startPodmanNode, type PodmanNode } from '../support/podman';

const ready = IS_ROOT && hasCommand('podman') && hasCommand('runc') && fs.existsSync('/bin/busybox');
requireInCi(ready, 'root, podman, runc and busybox-static for the second-runtime test');

const IMAGE = 'localhost/mountstorm/layers5:1';
const LAYERS = 5;

async function until(exp: RunningExporter, ok: (m: Sample[]) => boolean, what: string): Promise<Sample[]> {
  for (let i = 0; ; i++) {
    const m = await exp.waitSamples(1);
    if (ok(m)) return m;
    if (i > 150) throw new Error(`never: ${what}\n${exp.logs().slice(-3000)}`);
  }
}

testIf(ready, 'needs root, podman, runc and busybox-static (scripts/setup-test.sh)')(
  "real podman, found on the exporter's defaults: each start counted as podman's, its image named, user namespaces and layers exactly, the start's mounts by step; the kernel's start signal sees the same starts",
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-podman-'));
    let node: PodmanNode | undefined;
    let exp: RunningExporter | undefined;
    let kernel: RunningExporter | undefined;
    try {
      node = await startPodmanNode();
      await buildImage(path.join(dir, 'image.tar'), LAYERS, IMAGE, ['/bin/sleep', '600']);
      const loaded = await node.podman(['load', '--quiet', '--input', path.join(dir, 'image.tar')]);
      const id = /sha256:([0-9a-f]{64})/.exec(loaded)?.[1] ?? loaded.trim().split(/\s+/).pop();
      await node.podman(['tag', id as string, IMAGE]);

      exp = await startExporter(['--sample.interval=200ms', '--collector.tracefs.mode=always'], {
        mountNamespaceOf: node.pid,
      });
      // The graph root's overlay-containers exists once an image is stored; the run root's once a
      // container is: the exporter watches each as it appears.
      await until(exp, (m) => sum(m, 'mountstorm_container_task_dirs_watched') >= 1, 'the graph root watched');
      // The kernel's start signal, from an exporter that is given no runtime directory.
      kernel = await startExporter(
        [
          '--sample.interval=200ms',
          '--collector.containers.task-dir=/nonexistent',
          '--collector.containers.storage-dir=/nonexistent',
          '--no-collector.tracefs',
        ],
        { mountNamespaceOf: node.pid },
      );
      const kernelBefore = sum(await kernel.waitSamples(2), 'mountstorm_mount_namespaces_created_total');
      const before = await exp.waitSamples(1);
      const syscallsBefore = sum(before, 'mountstorm_mount_syscalls_total');

      // 4 plain starts, 2 user-namespaced (podman idmaps the layers or chowns a copy for those).
      const runs: string[][] = [];
      for (let i = 0; i < 4; i++) runs.push(['run', '--detach', ...RUN_FLAGS, IMAGE]);
      for (let i = 0; i < 2; i++)
        runs.push(['run', '--detach', ...RUN_FLAGS, '--uidmap=0:200000:65536', '--gidmap=0:200000:65536', IMAGE]);
      for (const r of runs) await node.podman(r);

      const starts = (m: Sample[]) => sum(m, 'mountstorm_container_starts_total', { runtime: 'podman' });
      let m = await until(
        exp,
        (x) =>
          starts(x) >= 6 && sum(x, 'mountstorm_container_image_start_layers_total', { image: IMAGE }) >= 6 * LAYERS,
        '6 podman starts with their layers',
      );
      m = await exp.waitSamples(3);
      expect({
        podman: starts(m),
        all: sum(m, 'mountstorm_container_starts_total'),
        image: sum(m, 'mountstorm_container_image_starts_total', { image: IMAGE }),
        userns: sum(m, 'mountstorm_container_userns_starts_total'),
        layers: sum(m, 'mountstorm_container_image_start_layers_total', { image: IMAGE }),
        deepest: sum(m, 'mountstorm_container_image_layers', { image: IMAGE }),
        errors: sum(m, 'mountstorm_container_bundle_errors_total'),
      }).toEqual({ podman: 6, all: 6, image: 6, userns: 2, layers: 6 * LAYERS, deepest: LAYERS, errors: 0 });
      expect(sum(m, 'mountstorm_container_task_dirs_watched')).toBe(2);

      // The mounts of the starts, by step: podman mounts the rootfs, conmon's runc sets the container up.
      const steps = new Map<string, number>();
      for (const s of m.filter((x) => x.name === 'mountstorm_mount_syscalls_by_actor_total'))
        steps.set(s.labels.actor as string, (steps.get(s.labels.actor as string) ?? 0) + s.value);
      const traced = sum(m, 'mountstorm_mount_syscalls_total') - syscallsBefore;
      expect(traced).toBeGreaterThan(0);
      expect(steps.get('runtime') ?? 0).toBeGreaterThan(0);
      expect(steps.get('oci-runtime') ?? 0).toBeGreaterThan(0);
      expect([...steps.values()].reduce((a, b) => a + b, 0)).toBe(sum(m, 'mountstorm_mount_syscalls_total'));

      // The landing page's state names the runtime too.
      const state = (await (await fetch(`${exp.url}/api/state`)).json()) as {
        starts?: { byRuntime?: Record<string, number> };
      };
      expect(state.starts?.byRuntime?.podman).toBe(6);

      // doctor, in the node's namespace on its defaults, finds both roots and the containers as podman's.
      const doctor = spawnSync(
        'nsenter',
        ['-t', String(node.pid), '-m', '--', process.execPath, CLI, 'doctor', '--json'],
        {
          encoding: 'utf8',
        },
      );
      const d = JSON.parse(doctor.stdout) as {
        runtimes: Array<{ layout: string; dir: string; containers: Record<string, number> }>;
        containers: { running: number; images: Array<{ image: string; containers: number; userNamespace: number }> };
      };
      expect(d.runtimes.map((r) => [r.layout, r.dir]).sort()).toEqual([
        ['containers-storage', '/run/containers/storage'],
        ['containers-storage', '/var/lib/containers/storage'],
      ]);
      expect(d.runtimes.reduce((n, r) => n + (r.containers.podman ?? 0), 0)).toBe(6);
      expect(d.containers.images).toEqual([expect.objectContaining({ image: IMAGE, containers: 6, userNamespace: 2 })]);

      // Every container lives on: each start's mount namespace is there for the walk to find.
      const k = await kernel.waitSamples(3);
      expect(sum(k, 'mountstorm_container_task_dirs_watched')).toBe(0);
      expect(sum(k, 'mountstorm_container_starts_total')).toBe(0);
      expect(sum(k, 'mountstorm_mount_namespaces_created_total') - kernelBefore).toBeGreaterThanOrEqual(6);
      expect(exp.logs()).not.toMatch(/level=error/);
    } finally {
      await kernel?.stop();
      await exp?.stop();
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  240_000,
);
