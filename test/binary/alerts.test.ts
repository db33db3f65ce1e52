/** The alerting bundle through the real tools: promtool checks and unit-tests the rules, amtool the routing. */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { AM_CONFIG } from '../support/alertmanager';
import { REPO, hasCommand, requireInCi, testIf } from '../support/env';

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
