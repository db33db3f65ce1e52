import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

function findRoot(dir: string): string {
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'jest.config.js'))) return d;
  }
  throw new Error('repository root not found');
}

export const REPO = findRoot(__dirname);
export const FIXTURES = path.join(REPO, 'test/fixtures');
export const CLI = path.join(REPO, 'dist/src/cli.js');
export const ARTIFACTS = path.join(REPO, 'test-artifacts');

export const IS_ROOT = process.getuid?.() === 0;

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `test` when cond holds, else a skip whose name says why (jest has no skip reasons of its own). */
export function testIf(cond: boolean, reason: string): jest.It {
  if (cond) return test;
  const named = (name: string) => `${name} [skipped: ${reason}]`;
  const skip = Object.assign(
    (name: string, fn?: jest.ProvidesCallback, timeout?: number) => test.skip(named(name), fn, timeout),
    {
      // test.each, skipped the same way (without it a suite using .each fails to load where the prerequisite is missing).
      each:
        (...table: Parameters<typeof test.skip.each>) =>
        (name: string, fn: (...args: never[]) => unknown, timeout?: number) =>
          (test.skip.each as (...t: unknown[]) => (n: string, f: unknown, t?: number) => void)(...table)(
            named(name),
            fn,
            timeout,
          ),
    },
  );
  return skip as unknown as jest.It;
}

/** In CI (CI=true, root) a missing prerequisite is a failure, never a silent skip. */
export function requireInCi(cond: boolean, what: string): void {
  if (process.env.CI === 'true' && !cond) throw new Error(`CI must be able to run this: ${what}`);
}

/**
 * A command line that runs `argv` as nobody with no capabilities, where it can read the build. A
 * clone under a 0700 directory (root's home, the usual place for a root-only tool) is not readable
 * by nobody, so the command gets a mount namespace of its own in which the repository is
 * bind-mounted on a fresh tmpfs at /mnt (nothing reaches the host's table); every argument that
 * names a path in the repository names it there instead.
 */
export function asNobody(argv: string[], repo = REPO): string[] {
  const view = '/mnt/mountstorm';
  const moved = argv.map((a) => a.split(repo).join(view));
  const script = `mount -t tmpfs -o mode=0755 mountstorm-view /mnt && mkdir ${view} && mount --bind "$0" ${view} && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"`;
  return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, repo, ...moved];
}
