/**
 * Starts test/support/bind-storm.py, the container-start storm mountstorm did not write (Python and
 * libc): WORKERS processes each forking containers that unshare a private mount namespace, make
 * BINDS bind mounts and live LIFE seconds, at RATE starts a second (0: as fast as they go), every
 * start a CRI-annotated bundle in TASKS. Its scratch directory is a tmpfs mounted in a mount
 * namespace of its own, so nothing of it reaches the caller's. Root only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { REPO } from './env';

export interface BindStorm {
  /** The task directory its bundles go in (under its k8s.io namespace). */
  tasks: string;
  /** Where its bind sources and targets are made (a tmpfs is mounted there). */
  scratch: string;
  workers: number;
  seconds: number;
  binds: number;
  rate?: number;
  life?: number;
  /** Its stdout (one JSON line at the end: the first start's Unix time, the starts): piped, or ignored. */
  stdout?: 'pipe' | 'ignore';
  /** A process whose mount namespace the storm starts from (its containers copy that table); else the caller's. */
  enter?: number;
}

export function spawnBindStorm(o: BindStorm): ChildProcess {
  const argv = [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mkdir -p "$1" && mount -t tmpfs none "$1" && exec python3 "$2" "$3" "$1" "$4" "$5" "$6" "$7" "$8"',
    'sh',
    o.scratch,
    path.join(REPO, 'test/support/bind-storm.py'),
    o.tasks,
    String(o.workers),
    String(o.seconds),
    String(o.binds),
    String(o.rate ?? 0),
    String(o.life ?? 0),
  ];
  const [cmd, ...rest] = o.enter === undefined ? argv : ['nsenter', '-t', String(o.enter), '-m', '--', ...argv];
  return spawn(cmd as string, rest, { stdio: ['ignore', o.stdout ?? 'ignore', 'pipe'] });
}
