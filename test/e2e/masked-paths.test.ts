/**
 * The 2025-2026 storm on a real runtime: containers started through containerd's CRI API (Debian's
 * containerd and runc) with the masked_paths kubelet sends on a 96- and a 192-CPU host — the
 * runtime's defaults and one thermal_throttle path per CPU. This host has 2 CPUs, so the per-CPU
 * paths are directories the image carries (/masks/cpu<N>/thermal_throttle: runc masks a path only
 * where it exists). Checked: the exporter reads every mask from the bundles, exactly; the OCI
 * runtime's own mount syscalls grow by two per mask and start (by actor, from tracefs; Debian's runc
 * 1.1.5 made 242 per start at 96 CPUs and 434 at 192 here); the node names the cause as masked paths.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MASKED_PATHS } from '../../src/storm/plan';
import { buildImage, exporterOn, startContainerd, stopContainerd } from '../support/containerd';
import { containerConfig, CriClient, podSandboxConfig, stringField, type Field } from '../support/cri';
import { IS_ROOT, hasCommand, requireInCi, testIf } from '../support/env';
import type { RunningExporter } from '../support/exporter';
import { sum, total, type Sample } from '../support/metrics';

const ready =
  IS_ROOT &&
  hasCommand('containerd') &&
  hasCommand('ctr') &&
  hasCommand('runc') &&
  hasCommand('setpriv') &&
  fs.existsSync('/bin/busybox');
requireInCi(ready, 'root, containerd, runc and busybox-static for the real-runtime test');

const IMAGE = 'docker.io/mountstorm/masks:latest';
const PAUSE = 'docker.io/mountstorm/pause:latest';
const MAX_CPUS = 192;
const perCpu = (cpus: number) => Array.from({ length: cpus }, (_, n) => `/masks/cpu${n}/thermal_throttle`);
/** What kubelet sends for a host with `cpus` CPUs: the runtime's defaults, then one path per CPU. */
const maskedPaths = (cpus: number) => [...DEFAULT_MASKED_PATHS, ...perCpu(cpus)];

/** A ContainerConfig with linux.security_context.masked_paths set (LinuxContainerConfig 15 → security_context 2 → 13). */
function withMasks(config: Field[], paths: string[]): Field[] {
  return [...config, [15, [[2, [[13, paths]]]]]];
}

const oci = (m: Sample[]) => total(m, 'mountstorm_mount_syscalls_by_actor_total', { actor: 'oci-runtime' });
const masks = (m: Sample[], scope: string) => sum(m, 'mountstorm_container_start_masked_paths_total', { scope });

testIf(ready, 'needs root, Debian containerd + runc + busybox-static (scripts/setup-test.sh)')(
  "masked_paths as kubelet sends them on a 96- and a 192-CPU host: every mask read from the bundles, the OCI runtime's mounts per mask, the cause named",
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-masks-'));
    const ctd = await startContainerd(dir, { cri: { sandboxImage: PAUSE } });
    let exp: RunningExporter | undefined;
    const cri = new CriClient(ctd.socket);
    try {
      await buildImage(path.join(dir, 'image.tar'), 2, IMAGE, ['/bin/true'], perCpu(MAX_CPUS));
      await buildImage(path.join(dir, 'pause.tar'), 1, PAUSE, ['/bin/sleep', '3600']);
      for (const t of ['image.tar', 'pause.tar'])
        await ctd.ctr(['-n', 'k8s.io', 'images', 'import', path.join(dir, t)]);
      exp = await exporterOn(ctd, dir);
      const e = exp;

      const logs = path.join(dir, 'pod-logs');
      fs.mkdirSync(logs);
      const sandbox = podSandboxConfig('shop', 'masks-0', 'uid-masks-0', logs);
      const podId = stringField(await cri.call('RunPodSandbox', [[1, sandbox]]), 1);
      let n = 0;
      /**
       * The metrics once the OCI runtime's count has held still for three samples: every runc call so
       * far read from the trace (CI once counted the sandbox's own runc calls, which were still being
       * read, into the first phase: 8 more per start).
       */
      const settled = async (): Promise<Sample[]> => {
        let m = await e.waitSamples(1);
        for (let i = 0; ; i++) {
          const next = await e.waitSamples(3);
          if (oci(next) === oci(m)) return next;
          if (i > 50) throw new Error(`runc's mount syscalls never stopped coming:\n${e.logs().slice(-2000)}`);
          m = next;
        }
      };
      /** Starts `count` containers masking for a `cpus`-CPU host, one after another; the metrics once all are read. */
      const start = async (count: number, cpus: number): Promise<Sample[]> => {
        const before = total(await e.waitSamples(1), 'mountstorm_container_image_starts_total', { image: IMAGE });
        for (let i = 0; i < count; i++) {
          const id = stringField(
            await cri.call('CreateContainer', [
              [1, podId],
              [2, withMasks(containerConfig(`c${n++}`, IMAGE, ['/bin/sleep', '30']), maskedPaths(cpus))],
              [3, sandbox],
            ]),
            1,
          );
          await cri.call('StartContainer', [[1, id]]);
        }
        let m = await e.waitSamples(1);
        for (let i = 0; total(m, 'mountstorm_container_image_starts_total', { image: IMAGE }) < before + count; i++) {
          if (i > 100) throw new Error(`the starts never showed:\n${e.logs().slice(-2000)}`);
          m = await e.waitSamples(1);
        }
        return settled();
      };

      const m0 = await settled();
      const m96 = await start(3, 96);
      const m192 = await start(3, 192);
      // Every mask, from the bundles, exactly: the defaults apart, the per-CPU ones by CPU.
      expect(masks(m96, 'per_cpu') - masks(m0, 'per_cpu')).toBe(3 * 96);
      expect(masks(m192, 'per_cpu') - masks(m96, 'per_cpu')).toBe(3 * 192);
      expect(masks(m192, 'other') - masks(m96, 'other')).toBe(3 * DEFAULT_MASKED_PATHS.length);
      // runc's own mount syscalls per start grow with the masks, exactly two per masked directory: it
      // tries to bind /dev/null (ENOTDIR on a directory), then mounts a read-only tmpfs.
      const per96 = (oci(m96) - oci(m0)) / 3;
      const per192 = (oci(m192) - oci(m96)) / 3;
      process.stdout.write(`runc mount syscalls per start: ${per96} with 96 per-CPU masks, ${per192} with 192\n`);
      expect(per192 - per96).toBe(2 * 96);
      // The node names the cause of these starts' mount work: masked paths, not per-layer idmapping.
      expect(sum(m192, 'mountstorm_node_storm_cause', { cause: 'masked_paths' })).toBe(1);
      await cri.call('StopPodSandbox', [[1, podId]]);
      await cri.call('RemovePodSandbox', [[1, podId]]);
    } finally {
      cri.close();
      await exp?.stop('SIGTERM');
      await stopContainerd(ctd, dir);
    }
  },
  240_000,
);
