/**
 * A small CRI client, as kubelet talks to containerd: gRPC (unary calls over HTTP/2, Node's own
 * http2) to the `runtime.v1.RuntimeService` on containerd's socket, with the few protobuf messages a
 * pod start needs encoded here by field number (the CRI v1 API's numbers; unknown fields are
 * skipped on both sides, so a subset is a valid client). What it starts is what kubelet would:
 * a pod sandbox, then a container in it, each a bundle the CRI plugin writes with its annotations.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';

type Field = [number, Value];
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
    else if (v instanceof Map) for (const [k, val] of v) parts.push(lengthDelimited(num, encode([[1, k], [2, val]])));
    else if (v.every((x) => typeof x === 'string')) for (const s of v as string[]) parts.push(lengthDelimited(num, Buffer.from(s)));
    else parts.push(lengthDelimited(num, encode(v as Field[])));
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
      const req = this.session.request({ ':method': 'POST', ':path': `/runtime.v1.RuntimeService/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
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
    [1, [[1, name], [2, uid], [3, namespace], [4, 0]]], // metadata: name, uid, namespace, attempt
    // no hostname: on the host's network the pod has the host's UTS namespace too
    [3, logDirectory],
    // linux.security_context.namespace_options: network, pid, ipc = NODE (2)
    [8, [[2, [[1, [[1, 2], [2, 2], [3, 2]]]]]]],
  ];
}

/** ContainerConfig: `name` of `image`, running `command`. */
export function containerConfig(name: string, image: string, command: string[]): Field[] {
  return [
    [1, [[1, name], [2, 0]]], // metadata: name, attempt
    [2, [[1, image]]], // image: ImageSpec.image
    [3, command],
    [11, `${name}.log`], // log_path
  ];
}
