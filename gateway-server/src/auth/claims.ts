/**
 * Maps IdP claims onto a session identity and applies the sign-in gates. Pure: the callback and
 * the refresh grant both call it, so a group change or deprovisioning in the IdP is enforced the
 * same way at sign-in and at every refresh.
 */

export interface IdentityClaims {
  sub: string;
  email?: string;
  name?: string;
  groups: string[];
}

export interface ClaimRules {
  email_claim: string | readonly string[];
  groups_claim: string;
  allowed_email_domains: readonly string[];
  allowed_groups: readonly string[];
}

/** Why a sign-in was refused: a stable reason (events, logs) and a sentence for the person. */
export class SignInRejected extends Error {
  constructor(
    readonly reason: string,
    readonly advice: string,
  ) {
    super(reason);
    this.name = 'SignInRejected';
  }
}

/** Resolve a claim name: a flat key, or an RFC 6901 JSON Pointer when it starts with '/'. */
export function readClaim(claims: Record<string, unknown>, name: string): unknown {
  if (!name.startsWith('/')) return claims[name];
  let cur: unknown = claims;
  for (const raw of name.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function firstEmail(claims: Record<string, unknown>, names: string | readonly string[]): string | undefined {
  for (const name of typeof names === 'string' ? [names] : names) {
    const v = readClaim(claims, name);
    if (typeof v === 'string' && v.includes('@')) return v;
  }
  return undefined;
}

function groupList(v: unknown): string[] | undefined {
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string' && g.length > 0);
  if (typeof v === 'string' && v) return [v];
  return undefined;
}

/**
 * `primary` is the id_token (authoritative); `fallback` (userinfo) only fills values the id_token
 * lacks, and only when its `sub` matches.
 */
export function mapClaims(
  rules: ClaimRules,
  primary: Record<string, unknown>,
  fallback?: Record<string, unknown>,
): IdentityClaims {
  const sub = primary.sub;
  if (typeof sub !== 'string' || !sub) throw new SignInRejected('id_token missing sub claim', 'Your identity provider sent an incomplete answer; ask your administrator to check its configuration.');
  const extra = fallback && fallback.sub === sub ? fallback : undefined;
  if (primary.email_verified === false || (primary.email_verified === undefined && extra?.email_verified === false)) {
    throw new SignInRejected('email not verified', 'Verify your email address with your identity provider, then sign in again.');
  }
  const email = firstEmail(primary, rules.email_claim) ?? (extra ? firstEmail(extra, rules.email_claim) : undefined);
  const groups = groupList(readClaim(primary, rules.groups_claim)) ?? (extra ? groupList(readClaim(extra, rules.groups_claim)) : undefined) ?? [];
  const nameClaim = typeof primary.name === 'string' ? primary.name : typeof extra?.name === 'string' ? extra.name : undefined;
  return { sub, email, name: nameClaim, groups };
}

/** allowed_email_domains is case-insensitive; allowed_groups exact and case-sensitive. */
export function applyGates(rules: ClaimRules, id: IdentityClaims): void {
  if (rules.allowed_email_domains.length > 0) {
    if (!id.email) {
      throw new SignInRejected('id_token missing email claim', 'Your identity provider did not share your email address; ask your administrator to release the email claim to the gateway.');
    }
    const domain = id.email.slice(id.email.lastIndexOf('@') + 1).toLowerCase();
    if (!rules.allowed_email_domains.some((d) => d.toLowerCase() === domain)) {
      throw new SignInRejected('email domain not allowed', `Accounts at ${domain} cannot use this gateway. Sign in with your work account, or ask your administrator for access.`);
    }
  }
  if (rules.allowed_groups.length > 0 && !id.groups.some((g) => rules.allowed_groups.includes(g))) {
    throw new SignInRejected('not in an allowed group', 'Your account is not in a group allowed to use this gateway. Ask your administrator to add you, then sign in again.');
  }
}
