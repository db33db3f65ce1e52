/**
 * Renders the rules from rules.ts: alerts/mountstorm.rules.yaml (a Prometheus rule file) and
 * deploy/kubernetes/base/prometheusrule.yaml (the same groups in a Prometheus Operator
 * PrometheusRule). `npm run render-alerts` writes both; tests fail while either is stale.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { ruleGroups } from './rules';

const HEADER = '# Generated from src/alerts/{thresholds,rules}.ts by `npm run render-alerts`; do not edit by hand.\n';

export function renderRules(): string {
  return HEADER + yaml.dump({ groups: ruleGroups() }, { lineWidth: 120, noRefs: true });
}

export function renderPrometheusRule(): string {
  const doc = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'mountstorm', labels: { 'app.kubernetes.io/name': 'mountstorm', role: 'alert-rules' } },
    spec: { groups: ruleGroups() },
  };
  return HEADER + yaml.dump(doc, { lineWidth: 120, noRefs: true });
}

if (require.main === module) {
  const root = process.argv[2] ?? '.';
  fs.writeFileSync(path.join(root, 'alerts/mountstorm.rules.yaml'), renderRules());
  fs.writeFileSync(path.join(root, 'deploy/kubernetes/base/prometheusrule.yaml'), renderPrometheusRule());
}
