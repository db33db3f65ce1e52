/** The shipped Alertmanager config, run by the real Alertmanager, paging a local PagerDuty Events API v2 receiver. */
import * as fs from 'node:fs';
import { DEFAULT_ALERTS_CONFIG, runbookUrl } from '../../src/alerts/config';
import { hasCommand, requireInCi, testIf } from '../support/env';
import { startAlertmanager } from '../support/alertmanager';
import { startPagerDuty } from '../support/pagerduty';

requireInCi(hasCommand('prometheus-alertmanager'), 'prometheus-alertmanager');
const withAlertmanager = testIf(
  hasCommand('prometheus-alertmanager'),
  'prometheus-alertmanager not installed (scripts/setup-test.sh installs it)',
);

describe('a real Alertmanager with the shipped config and a PagerDuty receiver', () => {
  withAlertmanager('critical pages PagerDuty; a warning on the same node is inhibited', async () => {
    const dir = fs.mkdtempSync('/tmp/mountstorm-am-');
    const pd = await startPagerDuty();
    const am = await startAlertmanager(pd, dir);
    try {
      const alert = (alertname: string, severity: string) => ({
        labels: { alertname, severity, instance: 'node1:9866', job: 'mountstorm' },
        annotations: {
          summary: `${alertname} summary`,
          description: `${alertname} on node1`,
          runbook_url: runbookUrl(DEFAULT_ALERTS_CONFIG, alertname),
        },
      });
      const sent = Date.now();
      const r = await fetch(`${am.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([alert('MountStormImminent', 'critical'), alert('MountTableNearMax', 'warning')]),
      });
      expect(r.status).toBe(200);
      while (pd.events.length === 0 && Date.now() - sent < 15_000) await new Promise((res) => setTimeout(res, 100));
      expect(pd.rejected).toEqual([]);
      const page = pd.events[0];
      expect(page?.event_action).toBe('trigger');
      expect(page?.routing_key).toBe(am.keys.page);
      expect(page?.payload?.severity).toBe('critical');
      expect(page?.payload?.summary).toBe('[FIRING] MountStormImminent on node1:9866: MountStormImminent summary');
      expect(page?.payload?.component).toBe('MountStormImminent');
      expect(page?.payload?.group).toBe('node1:9866');
      expect(page?.payload?.custom_details?.runbook_url).toBe(runbookUrl(DEFAULT_ALERTS_CONFIG, 'MountStormImminent'));
      const listed = (await (await fetch(`${am.url}/api/v2/alerts`)).json()) as {
        labels: { alertname: string };
        status: { inhibitedBy: string[] };
      }[];
      const warning = listed.find((a) => a.labels.alertname === 'MountTableNearMax');
      expect(warning?.status.inhibitedBy.length).toBeGreaterThan(0);
    } finally {
      am.proc.kill('SIGKILL');
      await pd.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
