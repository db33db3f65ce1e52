// Generated from src/alerts and src/grafana by `npm run render-mixin`; do not edit by hand.
{
  prometheusAlerts+:: {
    groups+: [
      {
        "name": "mountstorm",
        "interval": std.format("%(evaluationInterval)s", $._configText),
        "rules": [
          {
            "record": "instance:mountstorm_mount_table_entries:max",
            "expr": std.format("max by (instance) (mountstorm_mount_table_entries{%(selector)s})", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mounts_added:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mounts_added_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_events:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_events_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_syscalls:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_syscalls_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mounts_created:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mounts_created_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_setattr_syscalls:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_syscalls_total{%(selector)s,syscall=\"mount_setattr\"}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_lock_wait_seconds:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s}[%(fastWindow)s]))\n/\n(sum by (instance) (rate(mountstorm_trace_armed_seconds_total{%(selector)s}[%(fastWindow)s])) > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_runtime_starts:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_container_starts_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_namespaces_created:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_namespaces_created_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": "instance:mountstorm_container_runtime_dirs_watched:max",
            "expr": std.format("max by (instance) (mountstorm_container_task_dirs_watched{%(selector)s})", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_starts:rate%(fastWindow)s", $._configText),
            "expr": std.format("(instance:mountstorm_container_runtime_starts:rate%(fastWindow)s and on (instance) (instance:mountstorm_container_runtime_dirs_watched:max > 0))\nor\n(instance:mountstorm_mount_namespaces_created:rate%(fastWindow)s unless on (instance) (instance:mountstorm_container_runtime_dirs_watched:max > 0))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_starts_traced:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_container_starts_traced_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_image_starts:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_container_image_starts_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_start_masked_paths:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_container_start_masked_paths_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_start_per_cpu_masked_paths:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_container_start_masked_paths_total{%(selector)s,scope=\"per_cpu\"}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_overlay_new_mounts:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_overlay_new_mount_lower_layers_count{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_overlay_new_mount_lower_layers:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_overlay_new_mount_lower_layers_sum{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_syscall_seconds:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_syscall_duration_seconds_sum{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_namespace_copy_seconds:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_syscall_duration_seconds_sum{%(selector)s,syscall=\"unshare\"}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_namespace_copy_seconds_per_armed_second:ratio%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_syscall_duration_seconds_sum{%(selector)s,syscall=\"unshare\"}[%(fastWindow)s]))\n/\n(sum by (instance) (rate(mountstorm_trace_armed_seconds_total{%(selector)s}[%(fastWindow)s])) > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_table_opens:rate%(fastWindow)s", $._configText),
            "expr": std.format("sum by (instance) (rate(mountstorm_mount_table_opens_by_process_total{%(selector)s}[%(fastWindow)s]))", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_table_read_seconds:rate%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_table_opens:rate%(fastWindow)s * on (instance) instance:mountstorm_mount_table_entries:max * %(tableReadMicrosecondsPerMount)s / 1000000", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_syscall_work_seconds:rate%(fastWindow)s", $._configText),
            "expr": std.format("clamp_min(instance:mountstorm_mount_syscall_seconds:rate%(fastWindow)s - on (instance) sum by (instance) (rate(mountstorm_mount_lock_wait_seconds_total{%(selector)s}[%(fastWindow)s])), 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_table_reader_share:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_table_read_seconds:rate%(fastWindow)s / ((instance:mountstorm_mount_table_read_seconds:rate%(fastWindow)s + on (instance) instance:mountstorm_mount_syscall_work_seconds:rate%(fastWindow)s) > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_namespace_copy_seconds_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_namespace_copy_seconds:rate%(fastWindow)s / (instance:mountstorm_container_starts_traced:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_namespace_copy_share:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_namespace_copy_seconds:rate%(fastWindow)s / (instance:mountstorm_mount_syscall_seconds:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_syscalls:rate%(fastWindow)s / (instance:mountstorm_container_starts_traced:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mounts_created_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mounts_created:rate%(fastWindow)s / (instance:mountstorm_container_starts_traced:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_events_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_events:rate%(fastWindow)s / (instance:mountstorm_container_starts:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_mount_setattr_syscalls:rate%(fastWindow)s / (instance:mountstorm_container_starts_traced:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_container_start_masked_paths:rate%(fastWindow)s / (instance:mountstorm_container_image_starts:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_container_start_per_cpu_masked_paths_per_start:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_container_start_per_cpu_masked_paths:rate%(fastWindow)s / (instance:mountstorm_container_image_starts:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_overlay_lower_layers_per_new_overlay:ratio%(fastWindow)s", $._configText),
            "expr": std.format("instance:mountstorm_overlay_new_mount_lower_layers:rate%(fastWindow)s / (instance:mountstorm_overlay_new_mounts:rate%(fastWindow)s > 0)", $._configText),
          },
          {
            "record": "instance:mountstorm_namespace_sem_wait_estimate_seconds:max",
            "expr": std.format("max by (instance) (mountstorm_lock_wait_estimate_seconds{%(selector)s,lock=\"namespace_sem\"})", $._configText),
          },
          {
            "record": "instance:mountstorm_mount_lock_wait_estimate_seconds:max",
            "expr": std.format("max by (instance) (mountstorm_lock_wait_estimate_seconds{%(selector)s,lock=\"mount_lock\"})", $._configText),
          },
          {
            "record": "instance:mountstorm_overlay_lower_layers:max",
            "expr": std.format("max by (instance) (mountstorm_overlay_lower_layers_max{%(selector)s})", $._configText),
          },
          {
            "record": "instance:mountstorm_idmapped_mounts_lingering:max",
            "expr": std.format("max by (instance) (mountstorm_idmapped_mounts_lingering{%(selector)s})", $._configText),
          },
          {
            "record": "instance:mountstorm_runtime_temp_mounts_lingering:max",
            "expr": std.format("max by (instance) (mountstorm_runtime_temp_mounts_lingering{%(selector)s})", $._configText),
          },
          {
            "record": "instance:mountstorm_mount_namespaces_unheld:max",
            "expr": std.format("max by (instance) (mountstorm_mount_namespaces_unheld{%(selector)s})", $._configText),
          },
          {
            "record": "instance:mountstorm_mount_namespaces_unheld_mounts:max",
            "expr": std.format("max by (instance) (mountstorm_mount_namespaces_unheld_mounts{%(selector)s})", $._configText),
          },
          {
            "record": "instance:mountstorm_mount_table_utilisation:ratio",
            "expr": std.format("instance:mountstorm_mount_table_entries:max / on (instance) max by (instance) (mountstorm_mount_max{%(selector)s})", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_mount_table_entries:delta%(runawayWindow)s", $._configText),
            "expr": std.format("delta(instance:mountstorm_mount_table_entries:max[%(runawayWindow)s])", $._configText),
          },
          {
            "record": "instance:mountstorm_risky_topology:present",
            "expr": std.format("count by (instance) (mountstorm_cpu_topology_info{%(selector)s,sockets!=\"1\"}) or count by (instance) (mountstorm_cpu_topology_info{%(selector)s,smt=\"on\"})", $._configText),
          },
          {
            "record": std.format("instance:mountstorm_trace_events_lost:increase%(traceEventsLostWindow)s", $._configText),
            "expr": std.format("sum by (instance) (increase(mountstorm_trace_events_lost_total{%(selector)s}[%(traceEventsLostWindow)s]))", $._configText),
          },
          {
            "alert": "MountStormImminent",
            "expr": std.format("(\n  (\n    instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s > %(stormSyscallsPerStart)s\n    or on (instance)\n    instance:mountstorm_mounts_created_per_start:ratio%(fastWindow)s > %(stormMountsMadePerStart)s\n    or on (instance)\n    instance:mountstorm_mount_events_per_start:ratio%(fastWindow)s > %(stormEventsPerStart)s\n    or on (instance)\n    (\n      instance:mountstorm_mount_namespace_copy_seconds_per_start:ratio%(fastWindow)s > %(stormCopySecondsPerStart)s\n      and on (instance)\n      instance:mountstorm_mount_namespace_copy_seconds_per_armed_second:ratio%(fastWindow)s > %(stormCopyLoad)s\n    )\n  )\n  and on (instance)\n  instance:mountstorm_container_starts:rate%(fastWindow)s > %(stormStartsPerSecond)s\n  and on (instance)\n  (\n    instance:mountstorm_namespace_sem_wait_estimate_seconds:max > %(leadingLockWaitSeconds)s\n    or on (instance)\n    instance:mountstorm_mount_lock_wait_seconds:rate%(fastWindow)s > %(leadingMeasuredLockWaitRatio)s\n  )\n)\nunless on (instance)\n  max by (instance) (mountstorm_alertmanager_up{%(selector)s}) == 1", $._configText),
            "for": std.format("%(stormFor)s", $._configText),
            "keep_firing_for": std.format("%(stormKeepFiringFor)s", $._configText),
            "labels": {
              "severity": "critical",
            },
            "annotations": {
              "summary": "A mount storm is under way: container starts make more mounts than the mount locks can take, and the locks are contended.",
              "description": std.format("{{ $labels.instance }} makes {{ with printf \"instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} mount syscalls ({{ with printf \"instance:mountstorm_mounts_created_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} new mounts, each attached and detached again; {{ with printf \"instance:mountstorm_mount_events_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} attach and detach events seen) per container start, at {{ with printf \"instance:mountstorm_container_starts:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} starts/s{{ if (printf `(instance:mountstorm_container_runtime_dirs_watched:max > 0) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }} (counted in the container runtimes' own records){{ else }} (counted as new mount namespaces: no container runtime directory is watched here, so any process that unshares its mounts counts too){{ end }}, most of them {{ with printf `topk(1, ((sum by (image) (increase(mountstorm_container_image_start_layers_total{instance=%%q,image!=\"other\"}[%(fastWindow)s])) > 0) or sum by (image) (increase(mountstorm_container_image_starts_total{instance=%%q,image!=\"other\"}[%(fastWindow)s]))) > 0)` $labels.instance $labels.instance | query }}{{ . | first | label \"image\" }}{{ else }}n/a{{ end }}: {{ if (printf `(instance:mountstorm_mount_table_reader_share:ratio%(fastWindow)s > %(readerTimeShare)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}readers hold the mount table longer than the mounts work on it: they opened it {{ with printf \"instance:mountstorm_mount_table_opens:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} times a second, each open a read of all {{ with printf \"instance:mountstorm_mount_table_entries:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mounts with namespace_sem held for reading (about {{ with printf \"instance:mountstorm_mount_table_read_seconds:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} of reading a second, {{ with printf \"instance:mountstorm_mount_table_reader_share:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizePercentage }}{{ else }}n/a{{ end }} of it and the mounts' own work together, lock wait aside), and every mount waits out the reads. systemd re-reads the whole table on every change (systemd issue 42375); systemd PR 42528 follows fanotify mount events instead (kernel 6.15+, libmount 2.42+). mountstorm_mount_table_opens_by_process_total names the readers; a smaller table makes each read shorter, fewer concurrent starts make fewer changes to re-read{{ else if (printf `(instance:mountstorm_mount_namespace_copy_share:ratio%(fastWindow)s > %(namespaceCopyShare)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}each start copies the whole mount table into its new mount namespace with namespace_sem held for writing ({{ with printf \"instance:mountstorm_mount_namespace_copy_seconds_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} per start inside unshare, {{ with printf \"instance:mountstorm_mount_namespace_copy_share:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizePercentage }}{{ else }}n/a{{ end }} of the time in mount syscalls; the watched table holds {{ with printf \"instance:mountstorm_mount_table_entries:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mounts), and every reader of the mount table waits out each copy. The copy grows with the table: unmount what the host no longer needs (MountTableRunawayGrowth and MountStormNamespacesLeaked find leaks), spread the starts out; Linux 7.0 lets a runtime make a namespace from one tree (OPEN_TREE_NAMESPACE) instead of a copy of the whole table{{ else if (printf `(instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s > %(perLayerIdmapsPerStart)s and on (instance) instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s > %(manyMaskedPathsPerStart)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}the runtime idmaps every image layer ({{ with printf \"instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} idmapped mounts per start, of {{ with printf \"instance:mountstorm_overlay_lower_layers_per_new_overlay:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }}-layer images); containerd 2.1.5 / 2.0.7 / 2.2.0 idmap the layers' common parent instead, about 54 mount syscalls per start whatever the layer count; and the OCI runtime masks {{ with printf \"instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} paths per container start ({{ with printf \"instance:mountstorm_container_start_per_cpu_masked_paths_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} of them one per CPU: the thermal_throttle masks kubelet and containerd add since 2025-2026), one mount each, so the bigger the host the more mounts. runc 1.5.0 / 1.4.3 / 1.3.6 share one tmpfs among them (still a mount per path); kubelet and containerd releases that add them can be held back or their masks filtered (CRI-O PR 9661); fewer concurrent starts spread the mounts out{{ else if (printf `(instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s > %(perLayerIdmapsPerStart)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}the runtime idmaps every image layer ({{ with printf \"instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} idmapped mounts per start, of {{ with printf \"instance:mountstorm_overlay_lower_layers_per_new_overlay:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }}-layer images); containerd 2.1.5 / 2.0.7 / 2.2.0 idmap the layers' common parent instead, about 54 mount syscalls per start whatever the layer count{{ else if (printf `(instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s > %(manyMaskedPathsPerStart)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}the OCI runtime masks {{ with printf \"instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} paths per container start ({{ with printf \"instance:mountstorm_container_start_per_cpu_masked_paths_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} of them one per CPU: the thermal_throttle masks kubelet and containerd add since 2025-2026), one mount each, so the bigger the host the more mounts. runc 1.5.0 / 1.4.3 / 1.3.6 share one tmpfs among them (still a mount per path); kubelet and containerd releases that add them can be held back or their masks filtered (CRI-O PR 9661); fewer concurrent starts spread the mounts out{{ else }}neither per-layer idmapping ({{ with printf \"instance:mountstorm_idmapped_mounts_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} idmapped mounts per start) nor masked paths ({{ with printf \"instance:mountstorm_container_start_masked_paths_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} per start) nor namespace copies ({{ with printf \"instance:mountstorm_mount_namespace_copy_seconds_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} per start) explain it: mountstorm_mount_syscalls_by_actor_total names the step that mounts; fewer concurrent starts spread the mounts out{{ end }}. Lock wait: {{ with printf \"instance:mountstorm_mount_lock_wait_seconds:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} per second inside mount syscalls, mount table reads {{ with printf \"instance:mountstorm_namespace_sem_wait_estimate_seconds:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} slower than baseline.{{ if (printf `(instance:mountstorm_mount_table_reader_share:ratio%(fastWindow)s > %(readerTimeShare)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }}{{ else if (printf `(instance:mountstorm_mount_table_opens:rate%(fastWindow)s) and on (instance) label_replace(vector(1), \"instance\", %%q, \"\", \"\")` $labels.instance | query) }} Readers opened the mount table {{ with printf \"instance:mountstorm_mount_table_opens:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} times a second, each open a read of all {{ with printf \"instance:mountstorm_mount_table_entries:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mounts under namespace_sem that the mounts above wait out (systemd re-reads it on every change, systemd issue 42375; mountstorm_mount_table_opens_by_process_total names the readers).{{ else }}{{ end }} Pod health checks fail within ~30 s if this continues.", $._configText),
              "runbook_url": std.format("%(runbookURLHead)sMountStormImminent%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormLockWaitHigh",
            "expr": std.format("(\n  instance:mountstorm_namespace_sem_wait_estimate_seconds:max > %(lockWaitCriticalSeconds)s\n)\nunless on (instance)\n  max by (instance) (mountstorm_alertmanager_up{%(selector)s}) == 1", $._configText),
            "for": std.format("%(lockWaitCriticalFor)s", $._configText),
            "labels": {
              "severity": "critical",
            },
            "annotations": {
              "summary": "Mount table readers are blocked on namespace_sem.",
              "description": std.format("Reading the mount table on {{ $labels.instance }} takes {{ with printf \"instance:mountstorm_namespace_sem_wait_estimate_seconds:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} longer than its quiet baseline (readers open it {{ with printf \"instance:mountstorm_mount_table_opens:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} times a second, each reading all {{ with printf \"instance:mountstorm_mount_table_entries:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mounts); systemd, kubelet and health checks stall behind it, whatever the cause ({{ with printf \"instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} mount syscalls per container start).", $._configText),
              "runbook_url": std.format("%(runbookURLHead)sMountStormLockWaitHigh%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountPressureHigh",
            "expr": std.format("(\n  instance:mountstorm_mount_syscalls:rate%(fastWindow)s > %(pressureSyscallsPerSecond)s\n  or on (instance)\n  instance:mountstorm_mount_events:rate%(fastWindow)s > %(pressureEventsPerSecond)s\n  or on (instance)\n  instance:mountstorm_mounts_added:rate%(fastWindow)s > %(pressureChurnPerSecond)s\n)\nand on (instance)\n(\n  instance:mountstorm_namespace_sem_wait_estimate_seconds:max > %(leadingLockWaitSeconds)s\n  or on (instance)\n  instance:mountstorm_mount_lock_wait_seconds:rate%(fastWindow)s > %(leadingMeasuredLockWaitRatio)s\n)\nunless on (instance)\n(\n  instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s > %(stormSyscallsPerStart)s\n  or on (instance)\n  instance:mountstorm_mounts_created_per_start:ratio%(fastWindow)s > %(stormMountsMadePerStart)s\n  or on (instance)\n  instance:mountstorm_mount_events_per_start:ratio%(fastWindow)s > %(stormEventsPerStart)s\n  or on (instance)\n  (\n    instance:mountstorm_mount_namespace_copy_seconds_per_start:ratio%(fastWindow)s > %(stormCopySecondsPerStart)s\n    and on (instance)\n    instance:mountstorm_mount_namespace_copy_seconds_per_armed_second:ratio%(fastWindow)s > %(stormCopyLoad)s\n  )\n)", $._configText),
            "for": std.format("%(pressureFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "Heavy mount load with rising lock wait, without the per-layer storm signature.",
              "description": std.format("{{ $labels.instance }} makes {{ with printf \"instance:mountstorm_mount_syscalls:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mount syscalls/s ({{ with printf \"instance:mountstorm_mount_events:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} mounts attached and detached per second) with lock wait rising ({{ with printf \"instance:mountstorm_mount_lock_wait_seconds:rate%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} per second, mount table reads {{ with printf \"instance:mountstorm_namespace_sem_wait_estimate_seconds:max{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} slower), at {{ with printf \"instance:mountstorm_mount_syscalls_per_start:ratio%(fastWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | printf \"%%.0f\" }}{{ else }}n/a{{ end }} mount syscalls per container start: busy container churn, not a per-layer storm. Stagger starts if it grows.", $._configText),
              "runbook_url": std.format("%(runbookURLHead)sMountPressureHigh%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormPathWalkStall",
            "expr": std.format("instance:mountstorm_mount_lock_wait_estimate_seconds:max > %(pathWalkStallSeconds)s", $._configText),
            "for": std.format("%(pathWalkStallFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "Path lookups are spinning on the mount_lock seqlock.",
              "description": "Each path lookup across a mount point on {{ $labels.instance }} takes {{ with printf \"instance:mountstorm_mount_lock_wait_estimate_seconds:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}n/a{{ end }} more than its baseline.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormPathWalkStall%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountTableNearMax",
            "expr": std.format("instance:mountstorm_mount_table_utilisation:ratio > %(tableNearMaxRatio)s", $._configText),
            "for": std.format("%(tableNearMaxFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "The mount table is approaching fs.mount-max.",
              "description": "{{ $labels.instance }} has used {{ with printf \"instance:mountstorm_mount_table_utilisation:ratio{instance=%q}\" $labels.instance | query }}{{ . | first | value | humanizePercentage }}{{ else }}n/a{{ end }} of fs.mount-max; beyond it every mount fails with ENOSPC.",
              "runbook_url": std.format("%(runbookURLHead)sMountTableNearMax%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountTableRunawayGrowth",
            "expr": std.format("instance:mountstorm_mount_table_entries:delta%(runawayWindow)s > %(runawayGrowthPerHour)s", $._configText),
            "for": std.format("%(runawayFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "The mount table keeps growing: mounts are leaking.",
              "description": std.format("The mount table on {{ $labels.instance }} grew by {{ with printf \"instance:mountstorm_mount_table_entries:delta%(runawayWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} entries over the last hour and keeps growing.", $._configText),
              "runbook_url": std.format("%(runbookURLHead)sMountTableRunawayGrowth%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormIdmappedMountsLeaked",
            "expr": std.format("instance:mountstorm_idmapped_mounts_lingering:max > %(leakedIdmappedMounts)s", $._configText),
            "for": std.format("%(leakedIdmappedMountsFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "Idmapped mounts outlive the container starts that made them: the runtime leaks its temporary mounts.",
              "description": "{{ $labels.instance }} has {{ with printf \"instance:mountstorm_idmapped_mounts_lingering:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | printf \"%.0f\" }}{{ else }}n/a{{ end }} idmapped mounts in its mount table that have been there longer than a container start takes: a runtime's temporary per-layer or common-parent idmapped mounts that were never unmounted (umount2 EBUSY under load). Each stays on the mount locks' paths; they pile up with every start.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormIdmappedMountsLeaked%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormRuntimeTempMountsLeaked",
            "expr": std.format("instance:mountstorm_runtime_temp_mounts_lingering:max > %(leakedTempMounts)s", $._configText),
            "for": std.format("%(leakedTempMountsFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "A container runtime's temporary mounts outlive the container starts that made them.",
              "description": "{{ $labels.instance }} has {{ with printf \"instance:mountstorm_runtime_temp_mounts_lingering:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | printf \"%.0f\" }}{{ else }}n/a{{ end }} mounts at a container runtime's temporary mount points (containerd's tmpmounts/containerd-mount*, ovl-idmapped*) that have been there longer than a container start takes: mounts it made to read an image or idmap its layers and never unmounted. They pile up with every start.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormRuntimeTempMountsLeaked%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormNamespacesLeaked",
            "expr": std.format("instance:mountstorm_mount_namespaces_unheld:max > %(leakedNamespaces)s\nor on (instance)\ninstance:mountstorm_mount_namespaces_unheld_mounts:max > %(leakedNamespaceMounts)s", $._configText),
            "for": std.format("%(leakedNamespacesFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "Mount namespaces no process is in are piling up, with their mounts: a runtime leaks them.",
              "description": "{{ $labels.instance }} has {{ with printf \"instance:mountstorm_mount_namespaces_unheld:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | printf \"%.0f\" }}{{ else }}n/a{{ end }} mount namespaces that no process is in, holding {{ with printf \"instance:mountstorm_mount_namespaces_unheld_mounts:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | printf \"%.0f\" }}{{ else }}n/a{{ end }} mounts: each is kept by a bind mount of its nsfs file or an open descriptor, and every mount in it costs the mount locks as if it were in use.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormNamespacesLeaked%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormDeepLayersRiskyTopology",
            "expr": std.format("instance:mountstorm_overlay_lower_layers:max > %(deepLayers)s\nand on (instance)\ninstance:mountstorm_risky_topology:present", $._configText),
            "for": std.format("%(deepLayersFor)s", $._configText),
            "labels": {
              "severity": "info",
            },
            "annotations": {
              "summary": "Deep-layer images run on a multi-socket or SMT host.",
              "description": "{{ $labels.instance }} runs overlays with {{ with printf \"instance:mountstorm_overlay_lower_layers:max{instance=%q}\" $labels.instance | query }}{{ . | first | value | printf \"%.0f\" }}{{ else }}n/a{{ end }} lower layers on a host with more than one socket or SMT on, the hardware that fails first in a mount storm.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormDeepLayersRiskyTopology%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormTraceEventsLost",
            "expr": std.format("instance:mountstorm_trace_events_lost:increase%(traceEventsLostWindow)s > 0", $._configText),
            "for": std.format("%(traceEventsLostFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "tracefs dropped mount events: syscall counts are lower bounds.",
              "description": std.format("{{ $labels.instance }} lost {{ with printf \"instance:mountstorm_trace_events_lost:increase%(traceEventsLostWindow)s{instance=%%q}\" $labels.instance | query }}{{ . | first | value | humanize }}{{ else }}n/a{{ end }} trace events over the last window; raise --collector.tracefs.buffer-size.", $._configText),
              "runbook_url": std.format("%(runbookURLHead)sMountStormTraceEventsLost%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormExporterAbsent",
            "expr": std.format("up{%(selector)s} == 0\nor\n(max_over_time(up{%(selector)s}[%(absentWindow)s]) unless on (instance) up{%(selector)s})\nor\nabsent(up{%(selector)s})", $._configText),
            "for": std.format("%(absentFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "The mountstorm exporter is down.",
              "description": "Prometheus cannot scrape mountstorm on {{ with $labels.instance }}{{ . }}{{ else }}any node{{ end }}: mount storms there would go unseen.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormExporterAbsent%(runbookURLTail)s", $._configText),
            },
          },
          {
            "alert": "MountStormCollectorFailing",
            "expr": std.format("mountstorm_sample_collector_success{%(selector)s} == 0", $._configText),
            "for": std.format("%(collectorFailingFor)s", $._configText),
            "labels": {
              "severity": "warning",
            },
            "annotations": {
              "summary": "A mountstorm collector is failing.",
              "description": "The {{ $labels.collector }} collector on {{ $labels.instance }} keeps failing; its metrics are stale or missing.",
              "runbook_url": std.format("%(runbookURLHead)sMountStormCollectorFailing%(runbookURLTail)s", $._configText),
            },
          },
        ],
      },
    ],
  },
}
