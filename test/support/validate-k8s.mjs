// Validates Kubernetes objects against the Kubernetes and Prometheus Operator OpenAPI schemas
// (kubernetes-models, @kubernetes-models/prometheus-operator). ESM-only packages, so this runs as its
// own process: JSON array of objects on stdin, JSON array of {kind, name, error} on stdout.
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

const MODELS = {
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'v1/ConfigMap': core.ConfigMap,
  'apps/v1/DaemonSet': apps.DaemonSet,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': monitoring.PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule,
};

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const out = JSON.parse(input).map((obj) => {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const Model = MODELS[key];
    if (!Model) return { kind: obj.kind, name: obj.metadata?.name, error: `no schema for ${key}` };
    try {
      new Model(obj).validate();
      return { kind: obj.kind, name: obj.metadata?.name, error: null };
    } catch (err) {
      return { kind: obj.kind, name: obj.metadata?.name, error: String(err.message ?? err) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
