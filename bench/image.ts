// What the deployed artifact weighs and how soon it serves, beside node_exporter in the same run.
// Size: the Dockerfile built with buildah on the base the tests assemble from this machine's Debian
// packages (test/support/image.ts), against an image of Debian's prometheus-node-exporter built the
// same way (its binary and the libraries it links, on an empty base): each as a docker-archive, the
// layers uncompressed. Start: from spawn to the first 200 of /metrics, the exporter as root with its
// defaults (a mount namespace of its own, as a node runs it) and node_exporter with its defaults,
// alternating, `rounds` each; medians and their ratio.
// usage (root, after npm run build; buildah and prometheus-node-exporter from scripts/setup-test.sh):
//   node dist/bench/image.js [rounds=10]
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './stats';
import { buildahStorage, buildDockerfile, removeBuild } from '../test/support/image';
import { REPO } from '../test/support/env';
import { sleep } from './proc';

const [rounds = 10] = process.argv.slice(2).map(Number);
const cli = path.join(REPO, 'dist/src/cli.js');
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

/** node_exporter's binary on an empty base, built and saved as the exporter's image is. */
function nodeExporterImage(dir: string): number {
  const storage = buildahStorage(dir);
  const libs = execFileSync(
    'sh',
    ['-c', `ldd ${NODE_EXPORTER} 2>/dev/null | awk '/=>/ {print $3} /ld-linux/ {print $1}' || true`],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);
  const script = [
    'set -e',
    `c=$(buildah ${storage.join(' ')} from scratch)`,
    `m=$(buildah ${storage.join(' ')} mount "$c")`,
    `mkdir -p "$m/bin" && cp ${NODE_EXPORTER} "$m/bin/node_exporter"`,
    ...libs.map((l) => `cp -L --parents ${l} "$m/"`),
    `buildah ${storage.join(' ')} umount "$c" >/dev/null`,
    `buildah ${storage.join(' ')} config --entrypoint '["/bin/node_exporter"]' --user 65534 "$c"`,
    `buildah ${storage.join(' ')} commit -q "$c" localhost/node-exporter:debian >/dev/null`,
    `buildah ${storage.join(' ')} push localhost/node-exporter:debian docker-archive:${dir}/node-exporter.tar:localhost/node-exporter:debian`,
  ].join('\n');
  execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: 'ignore' });
  return fs.statSync(path.join(dir, 'node-exporter.tar')).size;
}

async function firstMetrics(cmd: string, args: string[], url: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const p = spawn(cmd, args, { stdio: 'ignore' });
  try {
    for (;;) {
      const ok = await fetch(url).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return Number(process.hrtime.bigint() - t0) / 1e6;
      if (p.exitCode !== null) throw new Error(`${cmd} exited`);
      await sleep(5);
    }
  } finally {
    // unshare --fork ignores SIGTERM while it waits: the exporter under it goes with --kill-child.
    p.kill('SIGKILL');
    await new Promise<void>((r) => (p.exitCode !== null ? r() : p.on('exit', () => r())));
    await sleep(300);
  }
}

void (async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-bench-image-'));
  try {
    const img = await buildDockerfile(dir, 'ghcr.io/mountstorm/mountstorm:bench');
    const ne = nodeExporterImage(dir);
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const a = () =>
        firstMetrics(
          'unshare',
          [
            '--mount',
            '--fork',
            '--kill-child',
            '--propagation',
            'private',
            process.execPath,
            cli,
            'serve',
            '--web.listen-address=127.0.0.1:19878',
          ],
          'http://127.0.0.1:19878/metrics',
        );
      const b = () =>
        firstMetrics(NODE_EXPORTER, ['--web.listen-address=127.0.0.1:19879'], 'http://127.0.0.1:19879/metrics');
      if (i % 2 === 0) {
        ours.push(await a());
        theirs.push(await b());
      } else {
        theirs.push(await b());
        ours.push(await a());
      }
    }
    const m = median(ours);
    const n = median(theirs);
    process.stdout.write(
      `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), kernel ${os.release()}, node ${process.version}\n` +
        `image: mountstorm ${mib(img.bytes)} MiB, node_exporter (Debian ${execFileSync(NODE_EXPORTER, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.split(' ')[2]}) ${mib(ne)} MiB: ratio ${(img.bytes / ne).toFixed(2)}\n` +
        `start to first /metrics (median of ${rounds}): mountstorm ${m.toFixed(0)} ms (${Math.min(...ours).toFixed(0)}–${Math.max(...ours).toFixed(0)}), node_exporter ${n.toFixed(0)} ms (${Math.min(...theirs).toFixed(0)}–${Math.max(...theirs).toFixed(0)}): ratio ${(m / n).toFixed(2)}\n`,
    );
  } finally {
    await removeBuild(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
