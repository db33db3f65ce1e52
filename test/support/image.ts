/**
 * The Dockerfile built as users build it, with Debian's buildah (daemonless, no registry): a base
 * assembled from this machine's packages (image-base.sh) passed as the BASE build argument, then
 * `buildah bud` of the repository, saved as a docker-archive under the DaemonSet's image name for
 * `ctr images import`. Every buildah call runs in a private mount namespace with its storage under
 * the caller's directory, so nothing reaches the host's mount table or /var/lib/containers, and a
 * fresh machine builds the same way (no cache but npm's own).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './env';

export const BASE_TAG = 'localhost/mountstorm-base:node20';

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err
        ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`))
        : resolve(stdout + stderr),
    ),
  );
}

/** buildah's flags for a storage of its own under `dir` (never the host's /var/lib/containers). */
export function buildahStorage(dir: string): string[] {
  return ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'overlay'];
}

export interface BuiltImage {
  /** docker-archive of the image, tagged `name`. */
  archive: string;
  name: string;
  /** The archive's size: the image's layers, uncompressed (bytes). */
  bytes: number;
  /** buildah's output, for the record. */
  log: string;
}

/** Builds the repository's Dockerfile under `dir` and saves it as `name`. */
export async function buildDockerfile(dir: string, name: string): Promise<BuiltImage> {
  const storage = buildahStorage(dir);
  const buildah = (args: string[], timeoutMs = 600_000) =>
    run('unshare', ['--mount', '--propagation', 'private', 'buildah', ...storage, ...args], timeoutMs);
  let log = await run(
    'unshare',
    ['--mount', '--propagation', 'private', path.join(REPO, 'test/support/image-base.sh'), BASE_TAG, ...storage],
    120_000,
  );
  log += await buildah([
    'bud',
    '--isolation',
    'chroot',
    '--layers=false',
    '--build-arg',
    `BASE=${BASE_TAG}`,
    '-f',
    path.join(REPO, 'Dockerfile'),
    '-t',
    name,
    REPO,
  ]);
  const archive = path.join(dir, 'image.tar');
  log += await buildah(['push', name, `docker-archive:${archive}:${name}`]);
  const bytes = fs.statSync(archive).size;
  return { archive, name, bytes, log };
}

/** Removes the build's storage (buildah's overlay directories need their own removal). */
export async function removeBuild(dir: string): Promise<void> {
  await run(
    'unshare',
    ['--mount', '--propagation', 'private', 'buildah', ...buildahStorage(dir), 'rmi', '--all', '--force'],
    120_000,
  ).catch(() => undefined);
}
