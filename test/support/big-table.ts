/**
 * A node's mount table to read, and the readers that re-read it: test/support/big-table.py (a
 * mount namespace of its own holding N mounts while its stdin is open) and
 * test/support/table-readers.py (processes re-reading a mount table file whole, one read after
 * another). Plain Python and libc, nothing of mountstorm's. Root only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { REPO } from './env';

/** A private mount namespace holding `mounts` mounts (a tmpfs at `dir`, binds on it), once it says it is ready; end it with stdin. */
export async function spawnBigTable(dir: string, mounts: number): Promise<ChildProcess> {
  const p = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'python3',
      path.join(REPO, 'test/support/big-table.py'),
      dir,
      String(mounts),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    p.stdout?.on('data', (d: Buffer) => /ready/.test((out += d.toString())) && resolve());
    p.on('exit', (code) => reject(new Error(`big-table.py exited (${code})`)));
  });
  return p;
}

/**
 * `readers` processes named `name` re-reading `file` whole until SIGTERM; with stdout piped, it
 * prints one JSON line at the end: their reads and the seconds spent in them.
 */
export function spawnTableReaders(
  file: string,
  readers: number,
  name: string,
  stdout: 'pipe' | 'ignore',
): ChildProcess {
  return spawn('python3', [path.join(REPO, 'test/support/table-readers.py'), file, String(readers), name], {
    stdio: ['ignore', stdout, 'inherit'],
  });
}

/** Resolves once the process has exited (at once if it has). */
export function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.on('exit', () => r()));
}
