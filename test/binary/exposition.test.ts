/** The exporter's text exposition through the real promtool, after renders of the other format. */
import { execFileSync } from 'node:child_process';
import { hasCommand, requireInCi, testIf } from '../support/env';
import { buildExposition as build } from '../support/exposition';

requireInCi(hasCommand('promtool'), 'promtool (Debian package prometheus)');
testIf(hasCommand('promtool'), 'promtool not installed (scripts/setup-test.sh installs it)')(
  'promtool check metrics accepts the text after an OpenMetrics render',
  async () => {
    const e = build();
    await e.render('openmetrics');
    e.invalidate();
    await e.render('openmetrics');
    const text = await e.render('prometheus');
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })).toBe('');
  },
);
