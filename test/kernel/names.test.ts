/** Task names for raw trace records against the real /proc, in and out of a PID namespace of its own. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInitialPidNamespace } from '../../src/sources/tracefs/names';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';

const INIT = 'pid:[4026531836]';

requireInCi(IS_ROOT, 'root for a PID namespace');
testIf(IS_ROOT, 'needs root to make a PID namespace')(
  'the real /proc: the host namespace here, not inside unshare --pid --mount-proc',
  () => {
    const probe = `process.stdout.write(String(require(${JSON.stringify(path.join(REPO, 'dist/src/sources/tracefs/names'))}).isInitialPidNamespace('/proc')))`;
    const host = fs.readlinkSync('/proc/self/ns/pid') === INIT;
    expect(isInitialPidNamespace('/proc')).toBe(host);
    expect(
      execFileSync('unshare', ['--pid', '--fork', '--mount', '--mount-proc', process.execPath, '-e', probe], {
        encoding: 'utf8',
      }),
    ).toBe('false');
  },
);
