/** The built CLI as users run it: help, version, and one clear line for a bad flag or command. */
import { execFileSync, spawnSync } from 'node:child_process';
import { FLAGS } from '../../src/config';
import { CLI } from '../support/env';

describe('the CLI', () => {
  test('--help lists every flag with its default', () => {
    const out = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    for (const f of FLAGS) expect(out).toContain(`--${f.name}`);
    expect(out).toContain('(default: :9866)');
    expect(out).toContain('--no-collector.probes');
  });

  test('--version', () => {
    expect(execFileSync(process.execPath, [CLI, '--version'], { encoding: 'utf8' })).toMatch(
      /^mountstorm \d+\.\d+\.\d+ \(node v/,
    );
  });

  test('a bad flag exits 2 with one clear line, no stack trace', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--sample.interval=x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('mountstorm: flag: sample.interval: must be a duration such as 500ms, 1s, 5m (got "x")\n');
  });

  test('an unknown command exits 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
