/**
 * The Grafana dashboards rendered as JSON (grafana/*.json): `mountstorm render-dashboards` writes
 * them with a user's settings; the committed files are the defaults, and a test fails while they are
 * stale and runs every panel query against a real Prometheus that scraped the exporter during a storm.
 */
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DEFAULT_ALERTS_CONFIG, type AlertsConfig } from '../alerts/config';
import { fleetDashboard } from './fleet-dashboard';
import { nodeDashboard } from './node-dashboard';

export const DASHBOARDS: Record<string, (cfg: AlertsConfig) => dashboard.Dashboard> = {
  'mountstorm-node.json': nodeDashboard,
  'mountstorm-fleet.json': fleetDashboard,
};

/** Panel ids and query refIds, which Grafana would otherwise assign on load, so the JSON is stable. */
function number(d: dashboard.Dashboard): dashboard.Dashboard {
  (d.panels ?? []).forEach((p, i) => {
    const panel = p as { id?: number; targets?: Array<{ refId?: string }> };
    panel.id = i + 1;
    (panel.targets ?? []).forEach((t, j) => (t.refId = String.fromCharCode(65 + j)));
  });
  return d;
}

export function renderDashboard(name: string, settings: AlertsConfig = DEFAULT_ALERTS_CONFIG): string {
  const make = DASHBOARDS[name];
  if (!make) throw new Error(`no dashboard ${name}`);
  return JSON.stringify(number(make(settings)), null, 2) + '\n';
}
