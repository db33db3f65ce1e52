/** The dashboards as code: the committed JSON is rendered from src/grafana, and follows the mixin conventions. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DASHBOARDS, renderDashboard } from '../../src/grafana/render';
import { DEFAULT_ALERTS_CONFIG, runbookUrl } from '../../src/alerts/config';
import { REPO } from '../support/env';
import { loadDashboard as load } from '../support/dashboards';

describe.each(Object.keys(DASHBOARDS))('%s', (name) => {
  const d = load(name);
  test('the committed JSON is rendered from src/grafana (npm run render-dashboards)', () => {
    expect(fs.readFileSync(path.join(REPO, 'grafana', name), 'utf8')).toBe(renderDashboard(name));
  });

  test('conventions: fixed uid, datasource and instance variables (no __inputs), unit + description + runbook links', () => {
    expect(d.uid).toBe(name.replace(/\.json$/, ''));
    expect(d.__inputs).toBeUndefined();
    const vars = Object.fromEntries(d.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.instance).toMatchObject({ type: 'query' });
    expect(d.panels.length).toBeGreaterThanOrEqual(7);
    for (const p of d.panels) {
      expect(p.fieldConfig?.defaults?.unit).toBeTruthy();
      expect((p.description ?? '').length).toBeGreaterThan(20);
      expect(p.targets?.length).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr).toMatch(/\$instance/);
    }
    const runbookLinks = d.panels.flatMap((p) => p.links ?? []).map((l) => l.url);
    expect(runbookLinks.length).toBeGreaterThan(3);
    for (const u of runbookLinks) {
      expect(u).toBe(runbookUrl(DEFAULT_ALERTS_CONFIG, path.basename(u, '.md')));
      expect(fs.existsSync(path.join(REPO, 'alerts/runbooks', path.basename(u)))).toBe(true);
    }
    expect(d.annotations.list[0]?.expr).toMatch(/^ALERTS\{/);
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
  });
});
