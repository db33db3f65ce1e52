// Generated from src/alerts and src/grafana by `npm run render-mixin`; do not edit by hand.
// Every setting of the rules and dashboards; override in your own mixin:
//   (import 'mountstorm/deploy/mixin/mixin.libsonnet') + { _config+:: { selector: 'job="node-mountstorm"' } }
{
  _config+:: {
    // PromQL label matchers of the exporter's series (render-alerts' selector).
    selector: "job=\"mountstorm\"",
    // The rule group's evaluation interval.
    evaluationInterval: "5s",
    // Where each alert's runbook is: {alert} becomes its name.
    runbookURLPattern: "https://github.com/mountstorm/mountstorm/blob/main/alerts/runbooks/{alert}.md",
    runbookURLHead:: std.substr(self.runbookURLPattern, 0, std.findSubstr('{alert}', self.runbookURLPattern)[0]),
    runbookURLTail:: std.substr(self.runbookURLPattern, std.findSubstr('{alert}', self.runbookURLPattern)[0] + 7, std.length(self.runbookURLPattern)),
    // The thresholds and durations of src/alerts/thresholds.ts, by the same names (alerts/README.md
    // says what each means). fastWindow is the fast signals' window as rendered: at least four
    // scrape intervals (render-alerts --config computes it from scrape_interval; here set it).
    fastWindow: "20s",
    stormSyscallsPerStart: 150,
    stormMountsMadePerStart: 75,
    stormEventsPerStart: 80,
    stormCopySecondsPerStart: 0.005,
    stormCopyLoad: 0.1,
    stormStartsPerSecond: 0.5,
    perLayerIdmapsPerStart: 10,
    manyMaskedPathsPerStart: 32,
    namespaceCopyShare: 0.5,
    readerTimeShare: 0.5,
    tableReadMicrosecondsPerMount: 0.6,
    pressureSyscallsPerSecond: 500,
    pressureEventsPerSecond: 200,
    pressureChurnPerSecond: 50,
    leadingLockWaitSeconds: 0.002,
    leadingMeasuredLockWaitRatio: 0.02,
    stormFor: "1s",
    stormKeepFiringFor: "10s",
    pressureFor: "15s",
    lockWaitCriticalSeconds: 0.05,
    lockWaitCriticalFor: "3s",
    pathWalkStallSeconds: 0.001,
    pathWalkStallFor: "15s",
    tableNearMaxRatio: 0.8,
    tableNearMaxFor: "5m",
    runawayGrowthPerHour: 2000,
    runawayWindow: "1h",
    runawayFor: "30m",
    leakedNamespaces: 20,
    leakedNamespaceMounts: 1000,
    leakedNamespacesFor: "30m",
    leakedIdmappedMounts: 0,
    leakedIdmappedMountsFor: "10m",
    leakedTempMounts: 0,
    leakedTempMountsFor: "10m",
    deepLayers: 10,
    deepLayersFor: "15m",
    absentFor: "2m",
    absentWindow: "1h",
    collectorFailingFor: "5m",
    traceEventsLostWindow: "5m",
    traceEventsLostFor: "5m",
  },
  // The settings as the rules print them: numbers as render-alerts prints them (no float noise).
  _configText:: {
    [k]: local v = $._config[k];
      if !std.isNumber(v) then v else if std.floor(v) == v then std.format('%d', v) else std.format('%.12g', v)
    for k in std.objectFieldsAll($._config)
  },
}
