/**
 * The building blocks both dashboards are made of (Grafana Foundation SDK builders), bound to the
 * settings they are rendered with: the exporter's selector and where the runbooks are.
 *
 * Conventions (kubernetes-mixin): fixed uid, a `datasource` template variable (no `__inputs`, so the
 * JSON imports through the UI and provisions from files as is), `instance` variables, a unit and a
 * description on every panel, runbook links, alert annotations.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { runbookUrl, type AlertsConfig } from '../alerts/config';
import { BUILD_INFO } from '../metric-names';

export const DS = { type: 'prometheus', uid: '${datasource}' };

export type PanelKit = ReturnType<typeof panelKit>;

export function panelKit(cfg: AlertsConfig) {
  /** The exporter's selector, as the settings give it. */
  const J = () => cfg.selector;

  function q(
    expr: string,
    legend?: string,
    opts: { instant?: boolean; format?: 'heatmap' | 'table' } = {},
  ): prometheus.DataqueryBuilder {
    const b = new prometheus.DataqueryBuilder().expr(expr).datasource(DS);
    if (legend) b.legendFormat(legend);
    if (opts.instant) b.instant();
    else b.range();
    if (opts.format)
      b.format(opts.format === 'heatmap' ? prometheus.PromQueryFormat.Heatmap : prometheus.PromQueryFormat.Table);
    return b;
  }

  /** A panel link to an alert's runbook (panel links take builders; a data link is just these fields). */
  function runbook(alert: string): { build(): { title: string; url: string; targetBlank: boolean } } {
    return { build: () => ({ title: `Runbook: ${alert}`, url: runbookUrl(cfg, alert), targetBlank: true }) };
  }

  function ts(
    title: string,
    unit: string,
    description: string,
    targets: prometheus.DataqueryBuilder[],
    w = 12,
    h = 8,
    alert?: string,
  ): timeseries.PanelBuilder {
    const p = new timeseries.PanelBuilder()
      .title(title)
      .unit(unit)
      .description(description)
      .datasource(DS)
      .gridPos({ x: 0, y: 0, w, h })
      .lineWidth(1)
      .fillOpacity(10);
    for (const t of targets) p.withTarget(t);
    if (alert) p.links([runbook(alert) as never]);
    return p;
  }

  function statPanel(
    title: string,
    unit: string,
    description: string,
    target: prometheus.DataqueryBuilder,
    w = 4,
    alert?: string,
  ): stat.PanelBuilder {
    const p = new stat.PanelBuilder()
      .title(title)
      .unit(unit)
      .description(description)
      .datasource(DS)
      .gridPos({ x: 0, y: 0, w, h: 4 })
      .withTarget(target);
    if (alert) p.links([runbook(alert) as never]);
    return p;
  }

  function heat(
    title: string,
    description: string,
    target: prometheus.DataqueryBuilder,
    alert?: string,
  ): heatmap.PanelBuilder {
    const p = new heatmap.PanelBuilder()
      .title(title)
      .unit('s')
      .description(description)
      .datasource(DS)
      .gridPos({ x: 0, y: 0, w: 12, h: 8 })
      .withTarget(target)
      .calculate(false)
      .yAxis(new heatmap.YAxisConfigBuilder().unit('s'));
    if (alert) p.links([runbook(alert) as never]);
    return p;
  }

  function datasourceVar(): dashboard.DatasourceVariableBuilder {
    return new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus');
  }

  function instanceVar(multi: boolean): dashboard.QueryVariableBuilder {
    const v = new dashboard.QueryVariableBuilder('instance')
      .label('Node')
      .datasource(DS)
      .query(`label_values(${BUILD_INFO}{${J()}}, instance)`)
      .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
      .sort(dashboard.VariableSort.AlphabeticalAsc);
    if (multi) v.multi(true).includeAll(true).allValue('.+');
    return v;
  }

  function alertAnnotations(sel: string): dashboard.AnnotationQueryBuilder {
    return new dashboard.AnnotationQueryBuilder()
      .name('Mount storm alerts')
      .datasource(DS)
      .enable(true)
      .iconColor('red')
      .expr(`ALERTS{alertstate="firing", alertname=~"MountStorm.*|MountTable.*", ${sel}}`)
      .titleFormat('{{alertname}}')
      .textFormat('{{instance}}: {{alertname}} ({{severity}})')
      .step('15s');
  }

  function links(): dashboard.DashboardLinkBuilder[] {
    return [
      new dashboard.DashboardLinkBuilder('Runbooks')
        .type(dashboard.DashboardLinkType.Link)
        .url(cfg.runbookUrl.slice(0, cfg.runbookUrl.indexOf('{alert}')))
        .targetBlank(true)
        .icon('doc'),
      new dashboard.DashboardLinkBuilder('Mount storm dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['mountstorm'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    ];
  }

  /** Lays panels out left to right, wrapping at 24 columns. */
  function layout<P extends { build(): unknown }>(panels: Array<[P, number, number]>): P[] {
    let x = 0;
    let y = 0;
    let rowH = 0;
    return panels.map(([p, w, h]) => {
      if (x + w > 24) {
        x = 0;
        y += rowH;
        rowH = 0;
      }
      (p as unknown as { gridPos(g: object): void }).gridPos({ x, y, w, h });
      x += w;
      rowH = Math.max(rowH, h);
      return p;
    });
  }

  /** What both dashboards share: variables, annotations, links and tags; panels laid out in a grid. */
  function build(
    d: { title: string; uid: string; description: string; refresh: string; from: string; multiNode: boolean },
    panels: Array<[{ build(): unknown }, number, number]>,
  ): dashboard.Dashboard {
    const b = new dashboard.DashboardBuilder(d.title)
      .uid(d.uid)
      .description(d.description)
      .tags(['mountstorm', 'mounts'])
      .refresh(d.refresh)
      .time({ from: d.from, to: 'now' })
      .withVariable(datasourceVar())
      .withVariable(instanceVar(d.multiNode))
      .annotation(alertAnnotations('instance=~"$instance"'))
      .links(links());
    for (const p of layout(panels)) b.withPanel(p as never);
    return b.build();
  }

  return { J, q, ts, statPanel, heat, build };
}
