/**
 * The layers behind container starts, from real overlays: a "runtime" holds a mount namespace of its
 * own (as containerd's shim mounts a rootfs where the exporter's namespace may not see it), makes
 * bundles in a task directory and mounts their rootfs overlays there, some only after the bundle
 * appeared (the shim mounts after writing config.json). The exporter watches that namespace and
 * finds each overlay by statx + statmount: starts × layers by image, and the deepest images running.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { IS_ROOT, requireInCi, testIf } from '../support/env';
import { startExporter } from '../support/exporter';
import { bundle, mountOverlay } from '../support/overlay-bundle';
import { sum, type Sample } from '../support/metrics';

requireInCi(IS_ROOT, 'root for real overlay mounts in a mount namespace of their own');

testIf(IS_ROOT, 'needs root (CAP_SYS_ADMIN) for overlay mounts')(
  "rootfs overlays found in the runtime's namespace, late mounts too: starts × layers by image, the deepest images running, gone with their bundle",
  async () => {
    const dir = fs.mkdtempSync('/tmp/mountstorm-rootfs-layers-');
    const task = path.join(dir, 'task');
    fs.mkdirSync(path.join(task, 'k8s.io'), { recursive: true });
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '600'], { stdio: 'ignore' });
    const inRuntime = (script: string) =>
      execFileSync('nsenter', ['-t', String(holder.pid), '-m', '--', 'sh', '-ec', script], { encoding: 'utf8' });
    const overlay = (b: string, layers: number) => mountOverlay(b, layers, inRuntime);
    let exp: Awaited<ReturnType<typeof startExporter>> | undefined;
    try {
      for (
        let i = 0;
        !fs.existsSync(`/proc/${holder.pid}/ns/mnt`) ||
        fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`) === fs.readlinkSync('/proc/self/ns/mnt');
        i++
      ) {
        if (i > 100) throw new Error('the runtime namespace never appeared');
        await new Promise((r) => setTimeout(r, 20));
      }
      exp = await startExporter([
        '--sample.interval=200ms',
        `--mount.pid=${holder.pid}`,
        `--collector.containers.task-dir=${task}`,
        // Only this task directory: not the host's containers/storage, where one exists.
        `--collector.containers.storage-dir=${task}/no-storage`,
        '--no-collector.tracefs',
        '--log.level=debug',
      ]);
      const e = exp;
      await e.until((m) => sum(m, 'mountstorm_container_task_dirs_watched') === 1, 'the task directory watched', {
        timeoutMs: 30_000,
      });
      // Each condition within 30 s of samples, then two samples more: what the counts settle to.
      const until = (done: (m: Sample[]) => boolean, what: string) =>
        e.until(done, what, { timeoutMs: 30_000, settle: 2 });
      const deep = 'registry.example/deep:1';
      const shallow = 'registry.example/shallow:1';
      // Mounted before the bundle shows (the watch sees the directory first anyway), and after it.
      const a = bundle(task, 'k8s.io', 'a', deep);
      overlay(a, 11);
      const b = bundle(task, 'k8s.io', 'b', deep);
      const c = bundle(task, 'k8s.io', 'c', shallow);
      overlay(c, 3);
      // b's bundle is seen with no rootfs mounted yet: its layers must be found later.
      await until((m) => sum(m, 'mountstorm_container_image_starts_total', { image: deep }) === 2, 'b seen');
      overlay(b, 11);
      // A rootfs on another filesystem: a start without layers.
      const d = bundle(task, 'k8s.io', 'd', shallow);
      inRuntime(`mount -t tmpfs rootfs ${d}/rootfs`);
      const layers = (m: Sample[], image: string) => sum(m, 'mountstorm_container_image_start_layers_total', { image });
      let m = await until((m) => layers(m, deep) === 22 && layers(m, shallow) === 3, 'every overlay found');
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: deep })).toBe(2);
      expect(sum(m, 'mountstorm_container_image_starts_total', { image: shallow })).toBe(2);
      expect(layers(m, deep)).toBe(22);
      expect(layers(m, shallow)).toBe(3); // d's tmpfs brought none
      expect(sum(m, 'mountstorm_container_image_layers', { image: deep })).toBe(11);
      expect(sum(m, 'mountstorm_container_image_layers', { image: shallow })).toBe(3);
      // The host's table never saw the runtime's overlays: they were found in its namespace.
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(path.join(a, 'rootfs'))).toBe(false);
      const state = (await (await fetch(`${e.url}/api/state`)).json()) as { images: unknown[]; deepest: unknown[] };
      expect(state.deepest).toEqual([
        { image: deep, layers: 11, containers: 2 },
        { image: shallow, layers: 3, containers: 1 },
      ]);
      expect(state.images).toEqual([
        { image: deep, starts: 2, startLayers: 22 },
        { image: shallow, starts: 2, startLayers: 3 },
      ]);
      // The deep ones stop: their series of running layers goes; what they started stays counted.
      inRuntime(`umount ${a}/rootfs ${b}/rootfs`);
      fs.rmSync(a, { recursive: true });
      fs.rmSync(b, { recursive: true });
      m = await until(
        (m) => !m.some((s) => s.name === 'mountstorm_container_image_layers' && s.labels.image === deep),
        'the deep image gone from the running',
      );
      expect(sum(m, 'mountstorm_container_image_layers', { image: shallow })).toBe(3);
      expect(layers(m, deep)).toBe(22);
    } finally {
      await exp?.stop('SIGTERM');
      if (holder.exitCode === null && holder.signalCode === null) {
        const gone = new Promise((r) => holder.once('exit', r));
        holder.kill('SIGKILL');
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
