/**
 * HTTP basic auth against the web config's bcrypt hashes. bcrypt is slow on purpose, so a correct
 * user/password pair is remembered (as a SHA-256, never the password) for a few minutes and
 * Prometheus scraping every 5 s costs one bcrypt per pair, not one per scrape. Unknown users are
 * checked against a dummy hash, so the response time does not tell which users exist.
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import * as bcrypt from 'bcryptjs';
import type { NextFunction, Request, Response } from 'express';
import type { ClientAuthType } from './config';

const CACHE_MS = 5 * 60_000;
const CACHE_MAX = 256;

export class WebAuth {
  private users = new Map<string, string>();
  private clientAuth: ClientAuthType = 'NoClientCert';
  private readonly ok = new Map<string, number>();
  private readonly dummy = bcrypt.hashSync('mountstorm-dummy-password', 10);

  constructor(users: Map<string, string>, clientAuth: ClientAuthType) {
    this.update(users, clientAuth);
  }

  update(users: Map<string, string>, clientAuth: ClientAuthType): void {
    this.users = new Map(users);
    this.clientAuth = clientAuth;
    this.ok.clear();
  }

  get enabled(): boolean {
    return this.users.size > 0;
  }

  private async verify(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    const key = createHash('sha256')
      .update(`${user}\0${password}\0${hash ?? ''}`)
      .digest('hex');
    const until = this.ok.get(key);
    if (until !== undefined && until > Date.now()) return true;
    const good = await bcrypt.compare(password, hash ?? this.dummy);
    if (!good || hash === undefined) return false;
    if (this.ok.size >= CACHE_MAX) this.ok.clear();
    this.ok.set(key, Date.now() + CACHE_MS);
    return true;
  }

  /** Client certificates the TLS layer could not enforce by itself (the "if given" and "any" modes). */
  private certOk(req: Request): boolean {
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate !== 'function') return true;
    const cert = sock.getPeerCertificate();
    const given = cert !== undefined && Object.keys(cert).length > 0;
    if (this.clientAuth === 'RequireAnyClientCert') return given;
    if (this.clientAuth === 'VerifyClientCertIfGiven') return !given || sock.authorized;
    return true;
  }

  middleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      if (!this.certOk(req)) {
        res.status(403).type('text/plain').send('client certificate required\n');
        return;
      }
      if (!this.enabled) return next();
      const deny = () => {
        res
          .set('WWW-Authenticate', 'Basic realm="mountstorm", charset="UTF-8"')
          .status(401)
          .type('text/plain')
          .send('unauthorized\n');
      };
      const header = req.get('authorization') ?? '';
      const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/.exec(header);
      if (!m) return deny();
      const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return deny();
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      this.verify(user, password).then(
        (good) => (good ? next() : deny()),
        () => deny(),
      );
    };
  }
}
