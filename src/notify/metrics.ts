/** The notifier's metrics (src/notify/notifier.ts registers them; the rules read alertmanagerUp). */
export const NOTIFY_METRICS = {
  alertmanagerUp: 'mountstorm_alertmanager_up',
  notifications: 'mountstorm_alertmanager_notifications_total',
  dropped: 'mountstorm_alertmanager_notifications_dropped_total',
  queueLength: 'mountstorm_alertmanager_queue_length',
  latency: 'mountstorm_alertmanager_notification_latency_seconds',
} as const;
