/** Prints alerts/mountstorm.rules.yaml (the Prometheus rule file) from rules.ts. */
import * as yaml from 'js-yaml';
import { ruleGroups } from './rules';

export function renderRules(): string {
  return (
    '# Generated from src/alerts/{thresholds,rules}.ts by `npm run render-alerts`; do not edit by hand.\n' +
    yaml.dump({ groups: ruleGroups() }, { lineWidth: 120, noRefs: true })
  );
}

if (require.main === module) process.stdout.write(renderRules());
