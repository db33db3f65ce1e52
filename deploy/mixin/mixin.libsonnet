// Generated from src/alerts and src/grafana by `npm run render-mixin`; do not edit by hand.
// The mountstorm monitoring mixin: _config, prometheusAlerts, grafanaDashboards.
(import 'config.libsonnet') + (import 'alerts.libsonnet') + (import 'dashboards.libsonnet')
