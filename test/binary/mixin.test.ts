/**
 * The monitoring mixin (deploy/mixin/) through Debian's real jsonnet: with its defaults it renders
 * exactly alerts/mountstorm.rules.yaml and grafana/*.json, and with `_config` overrides exactly what
 * `render-alerts --config` and `render-dashboards --config` render with the same settings. Its files
 * are the generator's (`npm run render-mixin`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from '../../src/alerts/config';
import { ruleGroups } from '../../src/alerts/promql';
import { DASHBOARDS, renderDashboard } from '../../src/grafana/render';
import { configOverrides, renderMixin } from '../../src/mixin/render';
import { REPO, hasCommand, requireInCi, testIf } from '../support/env';

const MIXIN = path.join(REPO, 'deploy/mixin');
requireInCi(hasCommand('jsonnet'), 'jsonnet (Debian package) to render the mixin');
const withJsonnet = testIf(hasCommand('jsonnet'), 'jsonnet not installed (scripts/setup-test.sh installs it)');

/** The mixin with `overrides` merged into its _config, evaluated by jsonnet; `field` of the result. */
function evaluate(field: string, overrides: Record<string, unknown> = {}): unknown {
  const code = `((import 'mixin.libsonnet') + { _config+:: ${JSON.stringify(overrides)} }).${field}`;
  return JSON.parse(execFileSync('jsonnet', ['-J', MIXIN, '-e', code], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

test('deploy/mixin is what the generator writes (npm run render-mixin)', () => {
  for (const [name, text] of Object.entries(renderMixin()))
    expect({ name, text: fs.readFileSync(path.join(MIXIN, name), 'utf8') }).toEqual({ name, text });
});

withJsonnet('with its defaults: exactly alerts/mountstorm.rules.yaml and grafana/*.json', () => {
  expect(evaluate('prometheusAlerts')).toEqual(
    yaml.load(fs.readFileSync(path.join(REPO, 'alerts/mountstorm.rules.yaml'), 'utf8')),
  );
  const dashboards = evaluate('grafanaDashboards') as Record<string, unknown>;
  expect(Object.keys(dashboards).sort()).toEqual(Object.keys(DASHBOARDS).sort());
  for (const name of Object.keys(DASHBOARDS))
    expect(dashboards[name]).toEqual(JSON.parse(fs.readFileSync(path.join(REPO, 'grafana', name), 'utf8')));
});

withJsonnet('with _config overrides: what render-alerts and render-dashboards give for the same settings', () => {
  const cfg: AlertsConfig = {
    ...DEFAULT_ALERTS_CONFIG,
    selector: 'job="node-mountstorm",cluster="prod"',
    evaluationIntervalMs: 15_000,
    runbookUrl: 'https://wiki.example.com/runbooks/{alert}?from=mixin',
    thresholds: {
      ...DEFAULT_ALERTS_CONFIG.thresholds,
      stormSyscallsPerStart: 200,
      leadingLockWaitSeconds: 0.004,
      stormFor: '5s',
      runawayWindow: '2h',
    },
  };
  const overrides = configOverrides(cfg);
  expect(evaluate('prometheusAlerts', overrides)).toEqual(JSON.parse(JSON.stringify({ groups: ruleGroups(cfg) })));
  const dashboards = evaluate('grafanaDashboards', overrides) as Record<string, unknown>;
  for (const name of Object.keys(DASHBOARDS)) expect(dashboards[name]).toEqual(JSON.parse(renderDashboard(name, cfg)));
});
