/**
 * The subset of `kustomize build` that deploy/kubernetes uses — resources (files and directories),
 * namespace, and patches with a kind/name target and JSON 6902 operations — so the manifests can be
 * validated where no kustomize binary exists. Any other kustomization field is an error, never
 * silently ignored; where kubectl exists, a test checks this builder against `kubectl kustomize`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
};

const CLUSTER_SCOPED = new Set(['Namespace', 'PriorityClass', 'ClusterRole', 'ClusterRoleBinding']);
const KNOWN = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'patches']);

function pointer(p: string): string[] {
  return p
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function applyOp(doc: unknown, op: { op: string; path: string; value?: unknown }): void {
  const parts = pointer(op.path);
  const last = parts.pop() as string;
  let parent = doc as Record<string, unknown> | unknown[];
  for (const p of parts) {
    parent = (Array.isArray(parent) ? parent[Number(p)] : parent[p]) as Record<string, unknown> | unknown[];
    if (parent === undefined) throw new Error(`patch path ${op.path} does not exist`);
  }
  if (op.op === 'test') {
    const have = Array.isArray(parent) ? parent[Number(last)] : parent[last];
    if (JSON.stringify(have) !== JSON.stringify(op.value))
      throw new Error(`patch test failed at ${op.path}: ${JSON.stringify(have)}`);
    return;
  }
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (op.op === 'add') parent.splice(i, 0, op.value);
    else if (op.op === 'replace') parent[i] = op.value;
    else if (op.op === 'remove') parent.splice(i, 1);
    else throw new Error(`unsupported op ${op.op}`);
  } else {
    if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(last in parent)) throw new Error(`replace of missing ${op.path}`);
      parent[last] = op.value;
    } else if (op.op === 'remove') delete parent[last];
    else throw new Error(`unsupported op ${op.op}`);
  }
}

export function kustomizeBuild(dir: string): K8sObject[] {
  const k = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key))
      throw new Error(`${dir}/kustomization.yaml: field ${key} is not supported by the test builder`);
  const objs: K8sObject[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const p = path.resolve(dir, r);
    if (fs.statSync(p).isDirectory()) objs.push(...kustomizeBuild(p));
    else objs.push(...(yaml.loadAll(fs.readFileSync(p, 'utf8')).filter(Boolean) as K8sObject[]));
  }
  for (const patch of (k.patches as Array<{ target: { kind: string; name: string }; patch: string }> | undefined) ??
    []) {
    const ops = yaml.load(patch.patch) as Array<{ op: string; path: string; value?: unknown }>;
    const targets = objs.filter((o) => o.kind === patch.target.kind && o.metadata.name === patch.target.name);
    if (targets.length === 0)
      throw new Error(`${dir}: patch target ${patch.target.kind}/${patch.target.name} not found`);
    for (const t of targets) for (const op of ops) applyOp(t, op);
  }
  const ns = k.namespace as string | undefined;
  if (ns)
    for (const o of objs) {
      if (o.kind === 'Namespace') o.metadata.name = ns;
      else if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = ns;
    }
  return objs;
}
