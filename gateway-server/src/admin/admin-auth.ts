/**
 * Admin API authentication, shared by every admin route (spend limits, audit export, session
 * revocation). As the official gateway: `x-api-key` matching `admin.write_keys` (full access) or
 * `admin.read_keys` (GET only); otherwise a session bearer whose groups intersect
 * `admin.admin_groups`, or (read only, Tollgate extension) `admin.viewer_groups`, the auditor's
 * role. When `x-api-key` is present there is no fallback to the bearer.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/load';
import type { BearerAuthenticator } from '../auth/bearer';
import { GatewayError } from '../errors';
import type { GatewayEvent } from '../feature';

export interface AdminActor {
  /** `admin-key:<id>` or `oidc:<sub>`, as recorded in audit rows. */
  id: string;
  canWrite: boolean;
}

export type AdminAccess = 'read' | 'write';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class AdminAuthenticator {
  private readonly keys: { id: string; digest: Buffer; canWrite: boolean }[];
  private readonly adminGroups: Set<string>;
  private readonly viewerGroups: Set<string>;

  constructor(
    config: Config,
    private readonly bearer: BearerAuthenticator,
    private readonly emit: (e: GatewayEvent) => Promise<void> = async () => {},
  ) {
    const admin = config.admin;
    this.keys = [
      ...(admin?.write_keys ?? []).map((k) => ({ id: k.id, digest: digest(k.key), canWrite: true })),
      ...(admin?.read_keys ?? []).map((k) => ({ id: k.id, digest: digest(k.key), canWrite: false })),
    ];
    this.adminGroups = new Set(admin?.admin_groups ?? []);
    this.viewerGroups = new Set(admin?.viewer_groups ?? []);
  }

  /** Throws GatewayError (401 / 403) and emits `admin.denied` when the caller may not do `access`. */
  async authenticate(req: FastifyRequest, access: AdminAccess): Promise<AdminActor> {
    const apiKey = req.headers['x-api-key'];
    const deny = async (reason: string, err: GatewayError): Promise<never> => {
      await this.emit({ name: 'admin.denied', at: new Date(), requestId: req.id, outcome: 'denied', reason, detail: { path: req.url.split('?')[0] } });
      throw err;
    };
    if (typeof apiKey === 'string' && apiKey.length > 0) {
      const given = digest(apiKey);
      // Compare against every key in constant time per key, so timing reveals nothing about which matched.
      let match: (typeof this.keys)[number] | undefined;
      for (const k of this.keys) if (timingSafeEqual(k.digest, given)) match = k;
      if (!match) return deny('invalid_key', new GatewayError('AUTH_INVALID', 'invalid admin API key'));
      if (access === 'write' && !match.canWrite) {
        return deny('read_only_key', new GatewayError('FORBIDDEN', 'this admin key is read-only: requires write:spend_limits'));
      }
      return { id: `admin-key:${match.id}`, canWrite: match.canWrite };
    }
    const authorization = req.headers.authorization;
    if (!authorization) return deny('no_credentials', new GatewayError('AUTH_MISSING', 'admin API: send x-api-key or a bearer token of an admin group member'));
    let principal;
    try {
      principal = this.bearer.authenticate(authorization);
    } catch (err) {
      return deny('bearer_rejected', err as GatewayError);
    }
    if (principal.groups.some((g) => this.adminGroups.has(g))) return { id: `oidc:${principal.sub}`, canWrite: true };
    if (principal.groups.some((g) => this.viewerGroups.has(g))) {
      if (access === 'write') return deny('viewer_group', new GatewayError('FORBIDDEN', 'your account is in a read-only group (admin.viewer_groups): ask an admin to make this change'));
      return { id: `oidc:${principal.sub}`, canWrite: false };
    }
    return deny('not_admin_group', new GatewayError('FORBIDDEN', 'your account is not in an admin group (admin.admin_groups or, read only, admin.viewer_groups)'));
  }
}
