/** The alerting bundle through the real tools: promtool checks and unit-tests the rules, amtool the routing. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { AM_CONFIG } from '../support/alertmanager';
import { CLI, REPO, hasCommand, requireInCi, testIf } from '../support/env';

const RULES = path.join(REPO, 'alerts/mountstorm.rules.yaml');

requireInCi(hasCommand('promtool') && hasCommand('amtool'), 'promtool and amtool');
const withPromtool = testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)');
const withAmtool = testIf(hasCommand('amtool'), 'amtool not installed (scripts/setup-test.sh installs it)');

describe('rules', () => {
  withPromtool('promtool check rules', () => {
    expect(execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(
      /SUCCESS: \d+ rules found/,
    );
  });

  withPromtool(
    'promtool test rules: each alert fires when it should and stays silent on normal churn and a quiet large table',
    () => {
      expect(
        execFileSync('promtool', ['test', 'rules', path.join(REPO, 'alerts/tests/mountstorm.test.yaml')], {
          encoding: 'utf8',
        }),
      ).toMatch(/SUCCESS/);
    },
  );
});

describe('Alertmanager routing', () => {
  withAmtool('amtool check-config', () => {
    expect(execFileSync('amtool', ['check-config', AM_CONFIG], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  withAmtool.each([
    ['severity=critical', 'page'],
    ['severity=warning', 'tickets'],
    ['severity=info', 'info'],
    ['alertname=Other', 'tickets'],
  ])('amtool config routes test %s → %s', (labels, receiver) => {
    execFileSync(
      'amtool',
      [
        'config',
        'routes',
        'test',
        `--config.file=${AM_CONFIG}`,
        `--verify.receivers=${receiver}`,
        'alertname=MountStormImminent',
        'instance=n1',
        labels,
      ],
      { stdio: 'pipe' },
    );
  });
});

describe('mountstorm render-alerts', () => {
  test('--config writes rules promtool would load, with the user settings', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mountstorm-render-'));
    try {
      fs.writeFileSync(path.join(dir, 'c.yaml'), 'selector: \'job="ms"\'\nthresholds: {stormSyscallsPerStart: 222}\n');
      const out = execFileSync(process.execPath, [CLI, 'render-alerts', `--config=${dir}/c.yaml`], {
        encoding: 'utf8',
      });
      const doc = yaml.load(out) as { groups: { rules: { alert?: string; expr: string }[] }[] };
      expect(doc.groups[0]?.rules.find((r) => r.alert === 'MountStormImminent')?.expr).toMatch(/> 222\b/);
      expect(out).toContain('{job="ms"}');
      fs.writeFileSync(path.join(dir, 'bad.yaml'), 'thresholds: {x: 1}\n');
      let stderr = '';
      try {
        execFileSync(process.execPath, [CLI, 'render-alerts', `--config=${dir}/bad.yaml`], {
          encoding: 'utf8',
          stdio: 'pipe',
        });
      } catch (e) {
        stderr = String((e as { stderr: string }).stderr);
        expect((e as { status: number }).status).toBe(2);
      }
      expect(stderr).toMatch(/bad\.yaml: thresholds: unknown threshold "x"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
