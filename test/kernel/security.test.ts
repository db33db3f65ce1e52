/** Security properties that are easy to lose in a refactor. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, parseArgs } from '../../src/config';
import { ConfigError } from '../../src/errors';
import { IS_ROOT, REPO, requireInCi, testIf } from '../support/env';

function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

test('no shell anywhere: child processes get a fixed argv array, never a command string', () => {
  const offenders: string[] = [];
  for (const f of sources(path.join(REPO, 'src'))) {
    const text = fs.readFileSync(f, 'utf8');
    if (
      /shell:\s*true|(?<![.\w])execSync\(|(?<![.\w])exec\(|\bimport \{[^}]*\bexec\b[^}]*\} from 'node:child_process'|'sh', \['-c'/.test(
        text,
      )
    )
      offenders.push(path.relative(REPO, f));
  }
  expect(offenders).toEqual([]);
});

test('config paths are validated: empty, NUL bytes and unreadable config files are ConfigErrors', () => {
  expect(() => parseArgs(['--path.procfs='])).toThrow(ConfigError);
  expect(() => parseArgs(['--path.procfs=/proc\0/x'])).toThrow(/must be a non-empty path/);
  expect(() => loadConfig(parseArgs(['--config.file=/nonexistent/mountstorm.yml']), {})).toThrow(
    /cannot read \/nonexistent\/mountstorm\.yml/,
  );
});

requireInCi(IS_ROOT, 'root');
testIf(IS_ROOT, 'needs root to run the storm child')(
  'the storm child refuses to mount in its parent’s namespace, before any mount',
  () => {
    // Inside a fresh namespace whose propagation is left as it is, tell the child that this very
    // namespace is its parent's: it must stop before touching anything.
    const child = path.join(REPO, 'dist/src/storm/child.js');
    const stormDirs = () => fs.readdirSync('/tmp').filter((d) => d.startsWith('mountstorm-storm-'));
    const dirsBefore = stormDirs();
    const script = `ns=$(readlink /proc/self/ns/mnt); before=$(grep -c . /proc/self/mountinfo); ${process.execPath} ${child} "{\\"mode\\":\\"bind-per-layer\\",\\"containers\\":1,\\"layers\\":1,\\"concurrency\\":1,\\"durationMs\\":0,\\"holdMs\\":0,\\"parentMountNs\\":\\"$ns\\"}" </dev/null; rc=$?; echo "rc=$rc before=$before after=$(grep -c . /proc/self/mountinfo) shared=$(awk '$5=="/"' /proc/self/mountinfo | grep -c shared)"`;
    const r = spawnSync('unshare', ['--mount', '--propagation', 'unchanged', 'sh', '-c', script], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/"code":"E_NAMESPACE"/);
    const m = /rc=(\d+) before=(\d+) after=(\d+) shared=(\d+)/.exec(r.stdout);
    expect(m?.[1]).toBe('3');
    expect(m?.[2]).toBe(m?.[3]); // no mount was added
    expect(stormDirs()).toEqual(dirsBefore); // not even its directory was made
  },
);
