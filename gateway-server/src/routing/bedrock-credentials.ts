/**
 * Where Bedrock's SigV4 credentials come from: explicit keys, the AWS default chain, or an STS
 * AssumeRole on top of either (`assume_role`), optionally one role session per user
 * (`session_name: email | sub`, so CloudTrail names the person). STS failures surface as
 * signing errors, which fail over to the next upstream; the base credentials are never used
 * in the role's place.
 */
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { Principal } from '../auth/session-token';
import type { ResolvedUpstream } from '../config/load';

type BedrockConfig = Extract<ResolvedUpstream, { provider: 'bedrock' }>;
type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

const REFRESH_MARGIN_MS = 5 * 60_000;
const MAX_SESSIONS = 1000;

/** Cache temporary credentials until shortly before they expire. */
export function memoizeCredentials(provider: AwsCredentialIdentityProvider, now: () => number = Date.now): AwsCredentialIdentityProvider {
  let cached: Promise<AwsCredentialIdentity> | undefined;
  let expiresAt = 0;
  return async () => {
    if (!cached || (expiresAt && now() >= expiresAt - REFRESH_MARGIN_MS)) {
      const p = provider();
      cached = p;
      p.then(
        (c) => (expiresAt = c.expiration ? c.expiration.getTime() : 0),
        () => (cached = undefined),
      );
    }
    return cached;
  };
}

/** RoleSessionName allows [\w+=,.@-], 2-64 characters. */
export function roleSessionName(raw: string): string {
  const cleaned = raw.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return cleaned.length >= 2 ? cleaned : `tollgate-${cleaned}`;
}

export class BedrockCredentials {
  private readonly base: Credentials;
  private readonly shared?: AwsCredentialIdentityProvider;
  private readonly perUser = new Map<string, AwsCredentialIdentityProvider>();

  constructor(
    private readonly cfg: BedrockConfig,
    override?: Credentials,
    /** STS endpoint override (tests; VPC endpoints). */
    private readonly stsEndpoint?: string,
  ) {
    this.base =
      override ??
      (cfg.auth.aws_access_key_id
        ? { accessKeyId: cfg.auth.aws_access_key_id, secretAccessKey: cfg.auth.aws_secret_access_key!, sessionToken: cfg.auth.aws_session_token }
        : fromNodeProviderChain());
    if (cfg.assume_role && !cfg.assume_role.session_name) this.shared = this.assume('tollgate-gateway');
  }

  /** The credentials to sign this principal's request with. */
  for(principal: Principal): Credentials {
    const role = this.cfg.assume_role;
    if (!role) return this.base;
    if (!role.session_name) return this.shared!;
    const who = role.session_name === 'email' ? (principal.email ?? principal.sub) : principal.sub;
    const name = roleSessionName(who);
    let p = this.perUser.get(name);
    if (!p) {
      if (this.perUser.size >= MAX_SESSIONS) this.perUser.delete(this.perUser.keys().next().value!);
      p = this.assume(name);
      this.perUser.set(name, p);
    }
    return p;
  }

  private assume(sessionName: string): AwsCredentialIdentityProvider {
    const role = this.cfg.assume_role!;
    return memoizeCredentials(
      fromTemporaryCredentials({
        params: { RoleArn: role.role_arn, RoleSessionName: sessionName, ...(role.external_id ? { ExternalId: role.external_id } : {}) },
        masterCredentials: this.base,
        clientConfig: { region: this.cfg.region, maxAttempts: 1, ...(this.stsEndpoint ? { endpoint: this.stsEndpoint } : {}) },
      }),
    );
  }
}
