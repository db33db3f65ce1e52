/**
 * Every metric name the exporter writes, in one catalogue below everything that writes or reads
 * them: each collector (and the sampler, the evaluator, the page capability, the notifier)
 * registers the names of its block; the alert spec, the dashboards and the landing page name them
 * through the same blocks, so a rename is one line and no reader imports a writer for a name.
 * Names are `mountstorm_<subsystem>_<name>_<base unit>`, `_total` only on counters.
 */

/** Version of mountstorm and of Node.js (value 1): every target carries it, so dashboards list nodes by it. */
export const BUILD_INFO = 'mountstorm_build_info';

/** Written by the mounts collector (src/collectors/mounts.ts). */
export const MOUNTS_METRICS = {
  mounts: 'mountstorm_mounts',
  mountsAdded: 'mountstorm_mounts_added_total',
  mountsRemoved: 'mountstorm_mounts_removed_total',
  overlayMounts: 'mountstorm_overlay_mounts',
  overlayLowerLayers: 'mountstorm_overlay_lower_layers',
  overlayLowerLayersMax: 'mountstorm_overlay_lower_layers_max',
  overlayNewMountLowerLayers: 'mountstorm_overlay_new_mount_lower_layers',
  idmappedMounts: 'mountstorm_idmapped_mounts',
  mountMax: 'mountstorm_mount_max',
  mountTableReadDurationSeconds: 'mountstorm_mount_table_read_duration_seconds',
  mountinfoBytes: 'mountstorm_mountinfo_bytes',
  mountinfoParseErrors: 'mountstorm_mountinfo_parse_errors_total',
  mountTableChangeEvents: 'mountstorm_mount_table_change_events_total',
  mountTableReads: 'mountstorm_mount_table_reads_total',
  mountTableMethod: 'mountstorm_mount_table_method',
  mountTableEntries: 'mountstorm_mount_table_entries',
  mountTableEntriesPeak: 'mountstorm_mount_table_entries_peak',
  idmappedMountsLingering: 'mountstorm_idmapped_mounts_lingering',
  idmappedMountsOlderThan: 'mountstorm_idmapped_mounts_older_than',
  runtimeTempMountsLingering: 'mountstorm_runtime_temp_mounts_lingering',
  runtimeTempMountsOlderThan: 'mountstorm_runtime_temp_mounts_older_than',
} as const;

/** Written by the probes collector (src/collectors/probes.ts). */
export const PROBES_METRICS = {
  probeDurationSeconds: 'mountstorm_probe_duration_seconds',
  lockWaitEstimateSeconds: 'mountstorm_lock_wait_estimate_seconds',
  probeBaselineSeconds: 'mountstorm_probe_baseline_seconds',
  probeTimeouts: 'mountstorm_probe_timeouts_total',
} as const;

/** Written by the namespaces collector (src/collectors/namespaces.ts). */
export const NAMESPACES_METRICS = {
  mountNamespaces: 'mountstorm_mount_namespaces',
  mountNamespacesCreated: 'mountstorm_mount_namespaces_created_total',
  mountNamespaceUnreadableProcesses: 'mountstorm_mount_namespace_unreadable_processes',
  mountNamespacesMounts: 'mountstorm_mount_namespaces_mounts',
  mountNamespaceMountsMax: 'mountstorm_mount_namespace_mounts_max',
  mountNamespacesMethod: 'mountstorm_mount_namespaces_method',
  mountEvents: 'mountstorm_mount_events_total',
  mountEventOverflows: 'mountstorm_mount_event_overflows_total',
  mountEventsNamespaces: 'mountstorm_mount_events_namespaces',
  unheldNamespaces: 'mountstorm_mount_namespaces_unheld',
  unheldNamespaceMounts: 'mountstorm_mount_namespaces_unheld_mounts',
} as const;

/** Written by the cpu collector (src/collectors/cpu.ts). */
export const CPU_METRICS = {
  cpuSeconds: 'mountstorm_cpu_seconds_total',
  cpuTopologyInfo: 'mountstorm_cpu_topology_info',
  smtActive: 'mountstorm_smt_active',
} as const;

/** Written by the host collector (src/collectors/host.ts). */
export const HOST_METRICS = {
  hostInfo: 'mountstorm_host_info',
} as const;

/** Written by the tracefs collector (src/collectors/tracefs.ts). */
export const TRACEFS_METRICS = {
  mountSyscalls: 'mountstorm_mount_syscalls_total',
  mountsCreated: 'mountstorm_mounts_created_total',
  mountSyscallDurationSeconds: 'mountstorm_mount_syscall_duration_seconds',
  traceArmed: 'mountstorm_trace_armed',
  traceArmedSeconds: 'mountstorm_trace_armed_seconds_total',
  traceArms: 'mountstorm_trace_arms_total',
  traceMode: 'mountstorm_trace_mode',
  mountSyscallErrors: 'mountstorm_mount_syscall_errors_total',
  mountSyscallsByProcess: 'mountstorm_mount_syscalls_by_process_total',
  mountSyscallsByActor: 'mountstorm_mount_syscalls_by_actor_total',
  mountTableOpensByProcess: 'mountstorm_mount_table_opens_by_process_total',
  mountLockWaitSeconds: 'mountstorm_mount_lock_wait_seconds_total',
  traceEventsLost: 'mountstorm_trace_events_lost_total',
  traceEvents: 'mountstorm_trace_events_total',
  traceParseErrors: 'mountstorm_trace_parse_errors_total',
} as const;

/** Written by the containers collector (src/collectors/containers.ts). */
export const CONTAINERS_METRICS = {
  containerStarts: 'mountstorm_container_starts_total',
  containerTaskDirsWatched: 'mountstorm_container_task_dirs_watched',
  imageStarts: 'mountstorm_container_image_starts_total',
  usernsStarts: 'mountstorm_container_userns_starts_total',
  maskedPaths: 'mountstorm_container_start_masked_paths_total',
  bundleErrors: 'mountstorm_container_bundle_errors_total',
  imageStartLayers: 'mountstorm_container_image_start_layers_total',
  imageLayers: 'mountstorm_container_image_layers',
} as const;

/** Written by the sampler: the exporter's own (src/sample/sampler.ts). */
export const EXPORTER_METRICS = {
  sampleCollectorSuccess: 'mountstorm_sample_collector_success',
  sampleCollectorDurationSeconds: 'mountstorm_sample_collector_duration_seconds',
  sampleOverruns: 'mountstorm_sample_overruns_total',
  samples: 'mountstorm_samples_total',
  lastSampleTimestampSeconds: 'mountstorm_last_sample_timestamp_seconds',
  processCpuSeconds: 'process_cpu_seconds_total',
  processResidentMemoryBytes: 'process_resident_memory_bytes',
  processHeapBytes: 'process_heap_bytes',
  processOpenFds: 'process_open_fds',
  processStartTimeSeconds: 'process_start_time_seconds',
  eventLoopDelayP99Seconds: 'mountstorm_event_loop_delay_p99_seconds',
} as const;

/** Written by the node's evaluator (src/alerts/evaluate.ts). */
export const EVALUATOR_METRICS = {
  nodeAlerts: 'mountstorm_node_alerts',
  stormCause: 'mountstorm_node_storm_cause',
  startsTraced: 'mountstorm_container_starts_traced_total',
} as const;

/** Written by the page capability (src/alerts/capability.ts). */
export const CAPABILITY_METRICS = {
  pageCapable: 'mountstorm_storm_page_capable',
  pageBlocked: 'mountstorm_storm_page_blocked',
} as const;

/** Written by the notifier (src/notify/notifier.ts). */
export const NOTIFY_METRICS = {
  alertmanagerUp: 'mountstorm_alertmanager_up',
  notifications: 'mountstorm_alertmanager_notifications_total',
  dropped: 'mountstorm_alertmanager_notifications_dropped_total',
  queueLength: 'mountstorm_alertmanager_queue_length',
  latency: 'mountstorm_alertmanager_notification_latency_seconds',
} as const;
