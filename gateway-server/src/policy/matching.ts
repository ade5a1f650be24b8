/**
 * Which policy applies to a caller (claude-apps-gateway-spec.md §3). Pure: no fastify, no db.
 * Policies are tried in order and the first match wins; a specific winner is later merged onto
 * the first `match: {}` catch-all (merge.ts), which is why a catch-all placed early shadows
 * every policy after it (boot warns).
 */

export interface PolicyMatch {
  groups?: readonly string[];
  email_domain?: string;
}

export interface Caller {
  email?: string;
  groups: readonly string[];
}

export function isCatchAll(match: PolicyMatch): boolean {
  return match.groups === undefined && match.email_domain === undefined;
}

/** The text after the last `@`, lower-cased; undefined when there is none. */
export function emailDomain(email: string | undefined): string | undefined {
  if (!email) return undefined;
  const at = email.lastIndexOf('@');
  if (at < 0 || at === email.length - 1) return undefined;
  return email.slice(at + 1).toLowerCase();
}

/** Groups: any overlap, case-sensitive. Domain: case-insensitive. Both keys: both must hold. */
export function matches(match: PolicyMatch, caller: Caller): boolean {
  if (match.groups !== undefined && !match.groups.some((g) => caller.groups.includes(g))) return false;
  if (match.email_domain !== undefined && emailDomain(caller.email) !== match.email_domain.toLowerCase()) return false;
  return true;
}

export interface Selection {
  /** Index of the first policy that matches. */
  winner: number;
  /** Index of the catch-all the winner is merged onto; undefined when there is none or it is the winner. */
  base?: number;
}

/** First match in order, plus the catch-all it merges onto. Undefined: no policy for this caller. */
export function selectPolicy(policies: readonly { match: PolicyMatch }[], caller: Caller): Selection | undefined {
  const winner = policies.findIndex((p) => matches(p.match, caller));
  if (winner < 0) return undefined;
  if (isCatchAll(policies[winner]!.match)) return { winner };
  const base = policies.findIndex((p) => isCatchAll(p.match));
  return base < 0 ? { winner } : { winner, base };
}

/** Boot warnings about ordering: a catch-all that is not last makes later policies unreachable. */
export function orderingWarnings(policies: readonly { match: PolicyMatch; name?: string }[], label: (i: number) => string): string[] {
  const first = policies.findIndex((p) => isCatchAll(p.match));
  if (first < 0 || first === policies.length - 1) return [];
  const shadowed = policies.slice(first + 1).map((_, k) => label(first + 1 + k));
  return [
    `${label(first)} (match: {}) is not the last policy: it matches everyone, so ${shadowed.join(', ')} can never match. Move the catch-all to the end.`,
  ];
}
