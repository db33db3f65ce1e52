/**
 * A small CRI client, as kubelet talks to containerd: gRPC (unary calls over HTTP/2, Node's own
 * http2) to the `runtime.v1.RuntimeService` on containerd's socket, with the few protobuf messages a
 * pod start needs encoded here by field number (the CRI v1 API's numbers; unknown fields are
 * skipped on both sides, so a subset is a valid client). What it starts is what kubelet would:
 * a pod sandbox, then a container in it, each a bundle the CRI plugin writes with its annotations.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';

export type Field = [number, Value];
type Value = string | number | Field[] | Map<string, string> | string[];

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function lengthDelimited(num: number, data: Buffer): Buffer {
  return Buffer.concat([varint((num << 3) | 2), varint(data.length), data]);
}

/** A message from [field number, value] pairs: strings, enums/ints, nested messages, maps, repeated strings. */
export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [num, v] of fields) {
    if (typeof v === 'string') parts.push(lengthDelimited(num, Buffer.from(v)));
    else if (typeof v === 'number') parts.push(varint(num << 3), varint(v));
    else if (v instanceof Map)
      for (const [k, val] of v)
        parts.push(
          lengthDelimited(
            num,
            encode([
              [1, k],
              [2, val],
            ]),
          ),
        );
    else if (v.every((x) => typeof x === 'string')) for (const s of v) parts.push(lengthDelimited(num, Buffer.from(s)));
    else parts.push(lengthDelimited(num, encode(v)));
  }
  return Buffer.concat(parts);
}

/** The string in field `num` of a message (the ids the responses carry), or ''. */
export function stringField(msg: Buffer, num: number): string {
  let i = 0;
  const read = (): number => {
    let v = 0;
    let shift = 1;
    for (;;) {
      const b = msg[i++] as number;
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
      shift *= 128;
    }
  };
  while (i < msg.length) {
    const tag = read();
    const wire = tag & 7;
    if (wire === 0) read();
    else if (wire === 2) {
      const len = read();
      if (tag >> 3 === num) return msg.toString('utf8', i, i + len);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`protobuf wire type ${wire}`);
  }
  return '';
}

export class CriClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(socket: string) {
    this.session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    this.session.on('error', () => undefined); // each call reports its own failure
  }

  /** One unary call of runtime.v1.RuntimeService; the response message, or the gRPC status as an error. */
  call(method: string, request: Field[], timeoutMs = 60_000): Promise<Buffer> {
    const body = encode(request);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        ':method': 'POST',
        ':path': `/runtime.v1.RuntimeService/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const timer = setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), timeoutMs);
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      const note = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      req.on('response', note);
      req.on('trailers', note);
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.on('close', () => {
        clearTimeout(timer);
        if (status !== '0') return reject(new Error(`CRI ${method}: gRPC status ${status ?? 'none'} ${message}`));
        const data = Buffer.concat(chunks);
        resolve(data.length >= 5 ? data.subarray(5, 5 + data.readUInt32BE(1)) : Buffer.alloc(0));
      });
      req.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

/** PodSandboxConfig of a pod on the host's network (no CNI needed), as kubelet sends it. */
export function podSandboxConfig(namespace: string, name: string, uid: string, logDirectory: string): Field[] {
  return [
    [
      1,
      [
        [1, name],
        [2, uid],
        [3, namespace],
        [4, 0],
      ],
    ], // metadata: name, uid, namespace, attempt
    // no hostname: on the host's network the pod has the host's UTS namespace too
    [3, logDirectory],
    // linux.security_context.namespace_options: network, pid, ipc = NODE (2)
    [
      8,
      [
        [
          2,
          [
            [
              1,
              [
                [1, 2],
                [2, 2],
                [3, 2],
              ],
            ],
          ],
        ],
      ],
    ],
  ];
}

/** ContainerConfig: `name` of `image`, running `command`. */
export function containerConfig(name: string, image: string, command: string[]): Field[] {
  return [
    [
      1,
      [
        [1, name],
        [2, 0],
      ],
    ], // metadata: name, attempt
    [2, [[1, image]]], // image: ImageSpec.image
    [3, command],
    [11, `${name}.log`], // log_path
  ];
}

/**
 * The parts of a Kubernetes pod spec a DaemonSet of ours sets, as kubelet turns them into CRI
 * messages: the pod's namespaces (hostPID → the node's PID namespace), its and the container's
 * security context (user, group, capabilities, read-only root, no privilege escalation, seccomp),
 * the args (the image's entrypoint stays), the environment, the volume mounts and the memory limit.
 * The one departure is the network: there is no CNI here, so the pod is on the node's network.
 */
export interface PodSpecLike {
  hostPID?: boolean;
  securityContext?: { runAsUser?: number; runAsGroup?: number; seccompProfile?: { type: string } };
  containers: Array<{
    name: string;
    image: string;
    args?: string[];
    env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
    resources?: { limits?: { memory?: string } };
    securityContext?: {
      runAsUser?: number;
      runAsGroup?: number;
      readOnlyRootFilesystem?: boolean;
      allowPrivilegeEscalation?: boolean;
      capabilities?: { add?: string[]; drop?: string[] };
    };
    volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  }>;
  volumes?: Array<{ name: string; hostPath?: { path: string }; secret?: { secretName: string } }>;
}

/** Where each volume's files are on this machine: a hostPath's path (mapped), a secret's directory. */
export interface VolumeSources {
  hostPath: (p: string) => string;
  secrets: Record<string, string>;
  /** The downward API's fieldRef values (spec.nodeName, …). */
  fields: Record<string, string>;
}

const NODE = 2;
const POD = 0;
const SECCOMP: Record<string, number> = { RuntimeDefault: 0, Unconfined: 1 };

function memoryBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`memory quantity ${q}`);
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''] ?? 1);
}

/** RunPodSandbox's PodSandboxConfig for a pod of `spec`. */
export function podSandboxFromSpec(
  spec: PodSpecLike,
  namespace: string,
  name: string,
  uid: string,
  logDirectory: string,
): Field[] {
  const pod = spec.securityContext ?? {};
  const sc: Field[] = [
    [
      1,
      [
        [1, NODE],
        [2, spec.hostPID ? NODE : POD],
        [3, POD],
      ],
    ],
  ];
  if (pod.runAsUser !== undefined) sc.push([3, [[1, pod.runAsUser]]]);
  if (pod.runAsGroup !== undefined) sc.push([8, [[1, pod.runAsGroup]]]);
  if (pod.seccompProfile) sc.push([9, [[1, SECCOMP[pod.seccompProfile.type] as number]]]);
  return [
    [
      1,
      [
        [1, name],
        [2, uid],
        [3, namespace],
        [4, 0],
      ],
    ],
    [3, logDirectory],
    [8, [[2, sc]]],
  ];
}

/** CreateContainer's ContainerConfig for the pod's first container. */
export function containerFromSpec(spec: PodSpecLike, sources: VolumeSources): Field[] {
  const c = spec.containers[0];
  if (!c) throw new Error('the pod spec has no container');
  const pod = spec.securityContext ?? {};
  const csc = c.securityContext ?? {};
  const mounts: Field[] = [];
  for (const vm of c.volumeMounts ?? []) {
    const vol = (spec.volumes ?? []).find((v) => v.name === vm.name);
    const host = vol?.hostPath
      ? sources.hostPath(vol.hostPath.path)
      : vol?.secret
        ? sources.secrets[vol.secret.secretName]
        : undefined;
    if (host === undefined) throw new Error(`volume ${vm.name}: no source for it here`);
    // A secret volume is read-only whatever the mount says, as kubelet makes it.
    mounts.push([
      7,
      [
        [1, vm.mountPath],
        [2, host],
        [3, vm.readOnly || vol?.secret ? 1 : 0],
      ],
    ]);
  }
  const envs: Field[] = (c.env ?? []).map((e) => {
    const value = e.value ?? (e.valueFrom?.fieldRef ? sources.fields[e.valueFrom.fieldRef.fieldPath] : undefined);
    if (value === undefined) throw new Error(`env ${e.name}: no value for it here`);
    return [
      6,
      [
        [1, e.name],
        [2, value],
      ],
    ];
  });
  const user = csc.runAsUser ?? pod.runAsUser;
  const group = csc.runAsGroup ?? pod.runAsGroup;
  const sc: Field[] = [
    [
      1,
      [
        [1, csc.capabilities?.add ?? []],
        [2, csc.capabilities?.drop ?? []],
      ],
    ],
    [
      3,
      [
        [1, NODE],
        [2, spec.hostPID ? NODE : POD],
        [3, POD],
      ],
    ],
  ];
  if (user !== undefined) sc.push([5, [[1, user]]]);
  if (group !== undefined) sc.push([12, [[1, group]]]);
  if (csc.readOnlyRootFilesystem) sc.push([7, 1]);
  if (csc.allowPrivilegeEscalation === false) sc.push([11, 1]);
  if (pod.seccompProfile) sc.push([15, [[1, SECCOMP[pod.seccompProfile.type] as number]]]);
  const resources: Field[] = c.resources?.limits?.memory ? [[4, memoryBytes(c.resources.limits.memory)]] : [];
  return [
    [
      1,
      [
        [1, c.name],
        [2, 0],
      ],
    ],
    [2, [[1, c.image]]],
    ...(c.args && c.args.length > 0 ? ([[4, c.args]] as Field[]) : []),
    ...envs,
    ...mounts,
    [11, `${c.name}.log`],
    [
      15,
      [
        [1, resources],
        [2, sc],
      ],
    ],
  ];
}
