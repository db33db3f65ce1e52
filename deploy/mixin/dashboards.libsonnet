// Generated from src/alerts and src/grafana by `npm run render-mixin`; do not edit by hand.
{
  grafanaDashboards+:: {
    "mountstorm-node.json": {
      "timezone": "browser",
      "editable": true,
      "graphTooltip": 0,
      "fiscalYearStartMonth": 0,
      "schemaVersion": 42,
      "templating": {
        "list": [
          {
            "type": "datasource",
            "name": "datasource",
            "skipUrlSync": false,
            "multi": false,
            "allowCustomValue": true,
            "includeAll": false,
            "auto": false,
            "auto_min": "10s",
            "auto_count": 30,
            "label": "Data source",
            "query": "prometheus",
          },
          {
            "type": "query",
            "name": "instance",
            "skipUrlSync": false,
            "multi": false,
            "allowCustomValue": true,
            "includeAll": false,
            "auto": false,
            "auto_min": "10s",
            "auto_count": 30,
            "label": "Node",
            "datasource": {
              "type": "prometheus",
              "uid": "${datasource}",
            },
            "query": std.format("label_values(mountstorm_build_info{%(selector)s}, instance)", $._configText),
            "refresh": 2,
            "sort": 1,
          },
        ],
      },
      "annotations": {
        "list": [
          {
            "name": "Mount storm alerts",
            "enable": true,
            "hide": false,
            "iconColor": "red",
            "builtIn": 0,
            "placement": "inControlsMenu",
            "datasource": {
              "type": "prometheus",
              "uid": "${datasource}",
            },
            "expr": "ALERTS{alertstate=\"firing\", alertname=~\"MountStorm.*|MountTable.*\", instance=~\"$instance\"}",
            "titleFormat": "{{alertname}}",
            "textFormat": "{{instance}}: {{alertname}} ({{severity}})",
            "step": "15s",
          },
        ],
      },
      "title": "Mount storm — node",
      "uid": "mountstorm-node",
      "description": "One node: mount table size and churn, syscalls and lock wait, per-socket CPU and the exporter itself.",
      "tags": [
        "mountstorm",
        "mounts",
      ],
      "refresh": "10s",
      "time": {
        "from": "now-1h",
        "to": "now",
      },
      "links": [
        {
          "title": "Runbooks",
          "type": "link",
          "icon": "doc",
          "tooltip": "",
          "tags": [],
          "asDropdown": false,
          "placement": "inControlsMenu",
          "targetBlank": true,
          "includeVars": false,
          "keepTime": false,
          "url": std.format("%(runbookURLHead)s", $._configText),
        },
        {
          "title": "Mount storm dashboards",
          "type": "dashboards",
          "icon": "",
          "tooltip": "",
          "tags": [
            "mountstorm",
          ],
          "asDropdown": true,
          "placement": "inControlsMenu",
          "targetBlank": false,
          "includeVars": true,
          "keepTime": true,
        },
      ],
      "panels": [
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "Mounts",
          "fieldConfig": {
            "defaults": {
              "unit": "short",
            },
            "overrides": [],
          },
          "description": "Entries in the watched mount table (mountstorm_mounts).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("sum(mountstorm_mounts{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountTableNearMax",
              "url": std.format("%(runbookURLHead)sMountTableNearMax%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 1,
        },
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "Table vs fs.mount-max",
          "fieldConfig": {
            "defaults": {
              "unit": "percentunit",
            },
            "overrides": [],
          },
          "description": "Mount table size as a share of fs.mount-max; mounts fail with ENOSPC at 100 %.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 4,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("sum(mountstorm_mounts{%(selector)s, instance=~\"$instance\"}) / max(mountstorm_mount_max{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountTableNearMax",
              "url": std.format("%(runbookURLHead)sMountTableNearMax%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 2,
        },
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "Mount syscalls/s",
          "fieldConfig": {
            "defaults": {
              "unit": "ops",
            },
            "overrides": [],
          },
          "description": "Exact mount-family syscalls per second, from tracefs (no data without the tracefs collector).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 8,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(mountstorm_mount_syscalls_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 3,
        },
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "Measured lock wait",
          "fieldConfig": {
            "defaults": {
              "unit": "s",
            },
            "overrides": [],
          },
          "description": "Seconds per second that tasks inside mount syscalls spent in lock contention (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 4,
        },
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "namespace_sem wait",
          "fieldConfig": {
            "defaults": {
              "unit": "s",
            },
            "overrides": [],
          },
          "description": "How far the namespace_sem probe sits above its learned quiet baseline.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 16,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("max(mountstorm_lock_wait_estimate_seconds{%(selector)s, instance=~\"$instance\", lock=\"namespace_sem\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormLockWaitHigh",
              "url": std.format("%(runbookURLHead)sMountStormLockWaitHigh%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 5,
        },
        {
          "type": "stat",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "graphMode": "area",
            "colorMode": "value",
            "justifyMode": "auto",
            "textMode": "auto",
            "wideLayout": true,
            "showPercentChange": false,
            "reduceOptions": {
              "calcs": [],
            },
            "percentChangeColorMode": "standard",
            "orientation": "auto",
          },
          "title": "Deepest overlay",
          "fieldConfig": {
            "defaults": {
              "unit": "short",
            },
            "overrides": [],
          },
          "description": "Lower layers of the deepest overlay mount; more than 10 is the common warning level.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 20,
            "y": 0,
            "w": 4,
            "h": 4,
          },
          "targets": [
            {
              "expr": std.format("max(mountstorm_overlay_lower_layers_max{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormDeepLayersRiskyTopology",
              "url": std.format("%(runbookURLHead)sMountStormDeepLayersRiskyTopology%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 6,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Mount table by filesystem type",
          "description": "Entries in the watched mount table, by fstype.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 4,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (fstype) (mountstorm_mounts{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{fstype}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountTableRunawayGrowth",
              "url": std.format("%(runbookURLHead)sMountTableRunawayGrowth%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 7,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Mount churn",
          "description": "Mounts appearing and disappearing between samples, per second (a lower bound: churn within one sample is missed).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 4,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(mountstorm_mounts_added_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "added",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mounts_removed_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "removed",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 8,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Mount syscalls by syscall",
          "description": "Exact mount-family syscalls per second by syscall (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 12,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (syscall) (rate(mountstorm_mount_syscalls_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{syscall}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 9,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Mount syscalls by process",
          "description": "Which processes make the mount syscalls: containerd, runc, systemd, kubelet (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 12,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (comm) (rate(mountstorm_mount_syscalls_by_process_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{comm}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "id": 10,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Mount syscalls by runtime step",
          "description": "Which step of a container start makes the mount syscalls (tracefs, by process name): the shim preparing the rootfs, the runtime itself (containerd reading the image through its own idmapped mounts), the OCI runtime setting up the container, kubelet, systemd.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 20,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (actor) (rate(mountstorm_mount_syscalls_by_actor_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{actor}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "id": 11,
        },
        {
          "type": "heatmap",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "calculate": false,
            "color": {
              "scheme": "Oranges",
              "fill": "dark-orange",
              "exponent": 0.5,
              "steps": 64,
              "reverse": false,
            },
            "filterValues": {
              "le": 1e-9,
            },
            "showValue": "auto",
            "cellGap": 1,
            "yAxis": {
              "unit": "s",
            },
            "legend": {
              "show": true,
            },
            "tooltip": {
              "mode": "single",
            },
            "exemplars": {
              "color": "rgba(255,0,255,0.7)",
            },
            "selectionMode": "x",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {},
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "namespace_sem probe latency",
          "description": "Distribution of the namespace_sem probe (first 4 KiB read of mountinfo): it queues behind mount writers.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 20,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (le) (rate(mountstorm_probe_duration_seconds_bucket{%(selector)s, instance=~\"$instance\", probe=\"namespace_sem\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{le}}",
              "range": true,
              "instant": false,
              "format": "heatmap",
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormLockWaitHigh",
              "url": std.format("%(runbookURLHead)sMountStormLockWaitHigh%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 12,
        },
        {
          "type": "heatmap",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "calculate": false,
            "color": {
              "scheme": "Oranges",
              "fill": "dark-orange",
              "exponent": 0.5,
              "steps": 64,
              "reverse": false,
            },
            "filterValues": {
              "le": 1e-9,
            },
            "showValue": "auto",
            "cellGap": 1,
            "yAxis": {
              "unit": "s",
            },
            "legend": {
              "show": true,
            },
            "tooltip": {
              "mode": "single",
            },
            "exemplars": {
              "color": "rgba(255,0,255,0.7)",
            },
            "selectionMode": "x",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {},
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Mount syscall latency",
          "description": "Distribution of mount-family syscall durations, entry to exit (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 28,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (le) (rate(mountstorm_mount_syscall_duration_seconds_bucket{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{le}}",
              "range": true,
              "instant": false,
              "format": "heatmap",
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 13,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Measured lock wait by lock kind",
          "description": "Seconds per second in lock contention inside mount syscalls, by kind (rwsem_write is namespace_sem taken for writing; spin includes mount_lock).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 28,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (kind) (rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{kind}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 14,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Lock-wait probes above baseline",
          "description": "The probe estimates (recent median above the learned quiet baseline) and the baselines themselves.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 36,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("max by (lock) (mountstorm_lock_wait_estimate_seconds{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{lock}} above baseline",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("max by (probe) (mountstorm_probe_baseline_seconds{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{probe}} baseline",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormLockWaitHigh",
              "url": std.format("%(runbookURLHead)sMountStormLockWaitHigh%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 15,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Mount syscall latency p99",
          "description": "99th percentile duration per syscall (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 36,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("histogram_quantile(0.99, sum by (syscall, le) (rate(mountstorm_mount_syscall_duration_seconds_bucket{%(selector)s, instance=~\"$instance\"}[$__rate_interval])))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{syscall}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "id": 16,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Mount syscall errors",
          "description": "Failed mount-family syscalls per second by errno; ENOSPC means fs.mount-max was hit (0 when none failed).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 44,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (errno) (rate(mountstorm_mount_syscall_errors_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) or vector(0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{errno}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountTableNearMax",
              "url": std.format("%(runbookURLHead)sMountTableNearMax%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 17,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "percentunit",
            },
            "overrides": [],
          },
          "title": "CPU by socket: system vs user",
          "description": "CPU time per socket, system (where the mount locks spin) against user.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 44,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (socket, mode) (rate(mountstorm_cpu_seconds_total{%(selector)s, instance=~\"$instance\", mode=~\"system|user\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "socket {{socket}} {{mode}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "id": 18,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Container starts",
          "description": "Container starts per second by runtime, from each runtime's own records (containerd's task directories, Podman's and CRI-O's containers/storage); those in a user namespace of their own (the starts a per-layer idmapping runtime pays for); and new mount namespaces, the kernel's start signal (every start makes one: the page divides by it where no runtime directory is watched, and it cross-checks the runtimes' count where one is).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 52,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum by (runtime) (rate(mountstorm_container_starts_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{runtime}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("sum(rate(mountstorm_container_userns_starts_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "user-namespaced",
              "range": true,
              "instant": false,
              "refId": "B",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mount_namespaces_created_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "new mount namespaces",
              "range": true,
              "instant": false,
              "refId": "C",
            },
          ],
          "id": 19,
        },
        {
          "type": "table",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "frameIndex": 0,
            "showHeader": true,
            "showTypeIcons": false,
            "footer": {
              "show": false,
              "reducer": [],
              "countRows": false,
            },
            "cellHeight": "sm",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "align": "auto",
                "inspect": false,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Images starting the most containers",
          "description": "Container starts over the dashboard's time range by the image their bundle names (the CRI's annotation; \"unknown\" for none). The exporter keeps a series for a bounded number of images (--collector.containers.image-series); the rest count as \"other\".",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "targets": [
            {
              "expr": std.format("topk(10, sum by (image) (increase(mountstorm_container_image_starts_total{%(selector)s, instance=~\"$instance\"}[$__range])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "format": "table",
              "refId": "A",
            },
          ],
          "gridPos": {
            "x": 12,
            "y": 52,
            "w": 12,
            "h": 8,
          },
          "id": 20,
        },
        {
          "type": "table",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "frameIndex": 0,
            "showHeader": true,
            "showTypeIcons": false,
            "footer": {
              "show": false,
              "reducer": [],
              "countRows": false,
            },
            "cellHeight": "sm",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "align": "auto",
                "inspect": false,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Images driving mount churn (starts × layers)",
          "description": "Lower layers of the rootfs overlays started over the dashboard's time range, by image: the mounts a per-layer idmapping runtime makes for it. The storm page's description names the top one. Image labels as in the table of starts.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "targets": [
            {
              "expr": std.format("topk(10, sum by (image) (increase(mountstorm_container_image_start_layers_total{%(selector)s, instance=~\"$instance\"}[$__range])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "format": "table",
              "refId": "A",
            },
          ],
          "gridPos": {
            "x": 0,
            "y": 60,
            "w": 12,
            "h": 8,
          },
          "id": 21,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Leaked runtime mounts",
          "description": "Mounts a container runtime makes for a start and should have unmounted within it, still there after --collector.mounts.idmap-linger (1m): idmapped mounts, and mounts at its temporary mount points (containerd's tmpmounts/containerd-mount*, ovl-idmapped*).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 60,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("max(mountstorm_idmapped_mounts_lingering{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "idmapped",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("max(mountstorm_runtime_temp_mounts_lingering{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "runtime temporary",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormRuntimeTempMountsLeaked",
              "url": std.format("%(runbookURLHead)sMountStormRuntimeTempMountsLeaked%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 22,
        },
        {
          "type": "table",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "frameIndex": 0,
            "showHeader": true,
            "showTypeIcons": false,
            "footer": {
              "show": false,
              "reducer": [],
              "countRows": false,
            },
            "cellHeight": "sm",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "align": "auto",
                "inspect": false,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Deepest images running",
          "description": "Lower layers of the rootfs overlay of each image's deepest running container, found by the exporter in the watched mount namespace (statx + statmount, Linux 6.8+): the images a per-layer idmapping runtime pays most for at every start.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "targets": [
            {
              "expr": std.format("sort_desc(max by (image) (mountstorm_container_image_layers{%(selector)s, instance=~\"$instance\"}))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "format": "table",
              "refId": "A",
            },
          ],
          "gridPos": {
            "x": 0,
            "y": 68,
            "w": 12,
            "h": 8,
          },
          "id": 23,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Mount work per container start",
          "description": "The storm signature: mount syscalls, new mounts made (each attached and detached again, in every mount namespace), mounts attached and detached (fanotify, marked namespaces only), and idmapped mounts made per container start. A runtime that idmaps every layer makes ~450 syscalls and ~102 new mounts per start at 50 layers; one that idmaps their common parent ~54 syscalls whatever the depth. The tracefs figures divide by the starts of the time tracing was armed.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 68,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(mountstorm_mount_syscalls_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_traced_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "mount syscalls",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mounts_created_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_traced_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "new mounts",
              "range": true,
              "instant": false,
              "refId": "B",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mount_events_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "mounts attached + detached",
              "range": true,
              "instant": false,
              "refId": "C",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mount_syscalls_total{%(selector)s, instance=~\"$instance\", syscall=\"mount_setattr\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_traced_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "idmapped mounts made",
              "range": true,
              "instant": false,
              "refId": "D",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 24,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Time in mount syscalls per container start",
          "description": "Seconds each container start spends inside mount-family syscalls (lock wait included), and of them inside unshare(CLONE_NEWNS): its new mount namespace copying the whole table under namespace_sem held for writing. More than 5 ms per start copying is a copy storm's signature; copies taking most of the time name it the cause (tracefs; per start of the time tracing was armed).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 76,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(mountstorm_mount_syscall_duration_seconds_sum{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_traced_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "in mount syscalls",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("sum(rate(mountstorm_mount_syscall_duration_seconds_sum{%(selector)s, instance=~\"$instance\", syscall=\"unshare\"}[$__rate_interval])) / (sum(rate(mountstorm_container_starts_traced_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) > 0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "copying the table (unshare)",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 25,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Node alerts and their page path",
          "description": "The exporter's own evaluation of its storm alerts (1 = pending or firing), and whether it reaches each Alertmanager (--alertmanager.url; no data when off).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 76,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("max by (alertname, state) (mountstorm_node_alerts{%(selector)s, instance=~\"$instance\", state!=\"inactive\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{alertname}} {{state}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("max by (alertmanager) (mountstorm_alertmanager_up{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "reaches {{alertmanager}}",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 26,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Overlay layers",
          "description": "Overlay mounts, and the lower layers of the deepest one.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 84,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("max(mountstorm_overlay_mounts{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "overlay mounts",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("max(mountstorm_overlay_lower_layers_max{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "deepest overlay (layers)",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormDeepLayersRiskyTopology",
              "url": std.format("%(runbookURLHead)sMountStormDeepLayersRiskyTopology%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 27,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Exporter health",
          "description": "Collectors failing (0 = all good), sample overruns and trace events lost per second.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 84,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("count(mountstorm_sample_collector_success{%(selector)s, instance=~\"$instance\"} == 0) or vector(0)", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "collectors failing",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("sum(rate(mountstorm_sample_overruns_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "overruns/s",
              "range": true,
              "instant": false,
              "refId": "B",
            },
            {
              "expr": std.format("sum(rate(mountstorm_trace_events_lost_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "trace events lost/s",
              "range": true,
              "instant": false,
              "refId": "C",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormCollectorFailing",
              "url": std.format("%(runbookURLHead)sMountStormCollectorFailing%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 28,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Exporter cost",
          "description": "The exporter's own CPU (seconds per second) and its slowest collector per sample.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 92,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("sum(rate(process_cpu_seconds_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval]))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "CPU",
              "range": true,
              "instant": false,
              "refId": "A",
            },
            {
              "expr": std.format("max(mountstorm_sample_collector_duration_seconds{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "slowest collector",
              "range": true,
              "instant": false,
              "refId": "B",
            },
          ],
          "id": 29,
        },
      ],
    },
    "mountstorm-fleet.json": {
      "timezone": "browser",
      "editable": true,
      "graphTooltip": 0,
      "fiscalYearStartMonth": 0,
      "schemaVersion": 42,
      "templating": {
        "list": [
          {
            "type": "datasource",
            "name": "datasource",
            "skipUrlSync": false,
            "multi": false,
            "allowCustomValue": true,
            "includeAll": false,
            "auto": false,
            "auto_min": "10s",
            "auto_count": 30,
            "label": "Data source",
            "query": "prometheus",
          },
          {
            "type": "query",
            "name": "instance",
            "skipUrlSync": false,
            "multi": true,
            "allowCustomValue": true,
            "includeAll": true,
            "auto": false,
            "auto_min": "10s",
            "auto_count": 30,
            "label": "Node",
            "datasource": {
              "type": "prometheus",
              "uid": "${datasource}",
            },
            "query": std.format("label_values(mountstorm_build_info{%(selector)s}, instance)", $._configText),
            "refresh": 2,
            "sort": 1,
            "allValue": ".+",
          },
        ],
      },
      "annotations": {
        "list": [
          {
            "name": "Mount storm alerts",
            "enable": true,
            "hide": false,
            "iconColor": "red",
            "builtIn": 0,
            "placement": "inControlsMenu",
            "datasource": {
              "type": "prometheus",
              "uid": "${datasource}",
            },
            "expr": "ALERTS{alertstate=\"firing\", alertname=~\"MountStorm.*|MountTable.*\", instance=~\"$instance\"}",
            "titleFormat": "{{alertname}}",
            "textFormat": "{{instance}}: {{alertname}} ({{severity}})",
            "step": "15s",
          },
        ],
      },
      "title": "Mount storm — fleet",
      "uid": "mountstorm-fleet",
      "description": "All nodes: who storms, whose locks wait, and which hardware suffers most.",
      "tags": [
        "mountstorm",
        "mounts",
      ],
      "refresh": "30s",
      "time": {
        "from": "now-6h",
        "to": "now",
      },
      "links": [
        {
          "title": "Runbooks",
          "type": "link",
          "icon": "doc",
          "tooltip": "",
          "tags": [],
          "asDropdown": false,
          "placement": "inControlsMenu",
          "targetBlank": true,
          "includeVars": false,
          "keepTime": false,
          "url": std.format("%(runbookURLHead)s", $._configText),
        },
        {
          "title": "Mount storm dashboards",
          "type": "dashboards",
          "icon": "",
          "tooltip": "",
          "tags": [
            "mountstorm",
          ],
          "asDropdown": true,
          "placement": "inControlsMenu",
          "targetBlank": false,
          "includeVars": true,
          "keepTime": true,
        },
      ],
      "panels": [
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "ops",
            },
            "overrides": [],
          },
          "title": "Nodes by mount syscall rate",
          "description": "The 10 nodes making the most mount-family syscalls per second (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 0,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("topk(10, sum by (instance) (rate(mountstorm_mount_syscalls_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{instance}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 1,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Nodes by measured lock wait",
          "description": "The 10 nodes whose mount syscalls spend the most time in lock contention, seconds per second (tracefs).",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 0,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("topk(10, sum by (instance) (rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{instance}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormImminent",
              "url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 2,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Nodes by namespace_sem wait",
          "description": "The 10 nodes whose namespace_sem probe sits furthest above its quiet baseline.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 8,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("topk(10, max by (instance) (mountstorm_lock_wait_estimate_seconds{%(selector)s, instance=~\"$instance\", lock=\"namespace_sem\"}))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{instance}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormLockWaitHigh",
              "url": std.format("%(runbookURLHead)sMountStormLockWaitHigh%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 3,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Nodes by mount table size",
          "description": "The 10 nodes with the largest mount tables.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 8,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("topk(10, sum by (instance) (mountstorm_mounts{%(selector)s, instance=~\"$instance\"}))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{instance}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountTableNearMax",
              "url": std.format("%(runbookURLHead)sMountTableNearMax%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 4,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "namespace_sem wait by topology",
          "description": "The hardware comparison: the probe estimate averaged by socket count, SMT and instance type.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 0,
            "y": 16,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("avg by (sockets, smt, system_model) (max by (instance) (mountstorm_lock_wait_estimate_seconds{%(selector)s, instance=~\"$instance\", lock=\"namespace_sem\"}) * on (instance) group_left (sockets, smt) max by (instance, sockets, smt) (mountstorm_cpu_topology_info{%(selector)s, instance=~\"$instance\"}) * on (instance) group_left (system_model) max by (instance, system_model) (mountstorm_host_info{%(selector)s, instance=~\"$instance\"}))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{system_model}} sockets={{sockets}} smt={{smt}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormDeepLayersRiskyTopology",
              "url": std.format("%(runbookURLHead)sMountStormDeepLayersRiskyTopology%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 5,
        },
        {
          "type": "timeseries",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "legend": {
              "displayMode": "list",
              "placement": "bottom",
              "showLegend": false,
              "calcs": [],
            },
            "tooltip": {
              "mode": "single",
              "sort": "asc",
            },
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "lineWidth": 1,
                "fillOpacity": 10,
              },
              "unit": "s",
            },
            "overrides": [],
          },
          "title": "Measured lock wait by topology",
          "description": "The hardware comparison with tracefs: lock wait inside mount syscalls per node, averaged by socket count, SMT and instance type.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "gridPos": {
            "x": 12,
            "y": 16,
            "w": 12,
            "h": 8,
          },
          "targets": [
            {
              "expr": std.format("avg by (sockets, smt, system_model) (sum by (instance) (rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s, instance=~\"$instance\"}[$__rate_interval])) * on (instance) group_left (sockets, smt) max by (instance, sockets, smt) (mountstorm_cpu_topology_info{%(selector)s, instance=~\"$instance\"}) * on (instance) group_left (system_model) max by (instance, system_model) (mountstorm_host_info{%(selector)s, instance=~\"$instance\"}))", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "legendFormat": "{{system_model}} sockets={{sockets}} smt={{smt}}",
              "range": true,
              "instant": false,
              "refId": "A",
            },
          ],
          "links": [
            {
              "title": "Runbook: MountStormDeepLayersRiskyTopology",
              "url": std.format("%(runbookURLHead)sMountStormDeepLayersRiskyTopology%(runbookURLTail)s", $._configText),
              "targetBlank": true,
            },
          ],
          "id": 6,
        },
        {
          "type": "table",
          "transparent": false,
          "repeatDirection": "h",
          "options": {
            "frameIndex": 0,
            "showHeader": true,
            "showTypeIcons": false,
            "footer": {
              "show": false,
              "reducer": [],
              "countRows": false,
            },
            "cellHeight": "sm",
          },
          "fieldConfig": {
            "defaults": {
              "custom": {
                "align": "auto",
                "inspect": false,
              },
              "unit": "short",
            },
            "overrides": [],
          },
          "title": "Nodes",
          "description": "Every node: topology, instance type, mount table size and deepest overlay.",
          "datasource": {
            "type": "prometheus",
            "uid": "${datasource}",
          },
          "targets": [
            {
              "expr": std.format("max by (instance, sockets, numa_nodes, smt, cpu_model) (mountstorm_cpu_topology_info{%(selector)s, instance=~\"$instance\"}) * on (instance) group_left (system_model) max by (instance, system_model) (mountstorm_host_info{%(selector)s, instance=~\"$instance\"}) * on (instance) group_left () sum by (instance) (mountstorm_mounts{%(selector)s, instance=~\"$instance\"})", $._configText),
              "datasource": {
                "type": "prometheus",
                "uid": "${datasource}",
              },
              "instant": true,
              "range": false,
              "format": "table",
              "refId": "A",
            },
          ],
          "gridPos": {
            "x": 0,
            "y": 24,
            "w": 24,
            "h": 8,
          },
          "id": 7,
        },
      ],
    },
  },
}
