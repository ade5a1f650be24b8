/**
 * access_control.allow_cidrs / deny_cidrs: which client addresses may use the gateway at all.
 * A deny entry wins over an allow entry; a non-empty allow list admits only its ranges. The
 * address is the one Fastify derives with listen.trusted_proxies (X-Forwarded-For is believed
 * only from those), so a client cannot talk its way in with a forged header.
 * Pure logic: no fastify, no I/O.
 */
import { BlockList, isIP } from 'node:net';

export type NetworkVerdict = { allowed: true } | { allowed: false; reason: 'deny_list' | 'not_in_allow_list' };

/** `10.0.0.0/8`, `fc00::/7` or a single address (`192.0.2.7`, a /32 or /128). */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [addr, bits, ...rest] = text.trim().split('/');
  if (rest.length || !addr) return undefined;
  const v = isIP(addr);
  if (!v) return undefined;
  const max = v === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address: addr, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

export const isCidr = (text: string) => parseCidr(text) !== undefined;

function blockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (!p) throw new Error(`not a CIDR range: ${c}`);
    list.addSubnet(p.address, p.prefix, p.family);
  }
  return list;
}

/** `::ffff:10.1.2.3` (IPv4 on a dual-stack socket) is matched as the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return { address: mapped[1]!, family: 'ipv4' };
  const v = isIP(bare);
  return v ? { address: bare, family: v === 4 ? 'ipv4' : 'ipv6' } : undefined;
}

export class NetworkGate {
  private readonly allow: BlockList;
  private readonly deny: BlockList;
  readonly active: boolean;

  constructor(private readonly cfg: { allow_cidrs: readonly string[]; deny_cidrs: readonly string[] }) {
    this.allow = blockList(cfg.allow_cidrs);
    this.deny = blockList(cfg.deny_cidrs);
    this.active = cfg.allow_cidrs.length > 0 || cfg.deny_cidrs.length > 0;
  }

  check(address: string | undefined): NetworkVerdict {
    if (!this.active) return { allowed: true };
    const a = address ? normalise(address) : undefined;
    // An address we cannot read (a closed socket) matches no range: refused unless nothing is listed.
    if (!a) return this.cfg.allow_cidrs.length ? { allowed: false, reason: 'not_in_allow_list' } : { allowed: true };
    if (this.deny.check(a.address, a.family)) return { allowed: false, reason: 'deny_list' };
    if (this.cfg.allow_cidrs.length && !this.allow.check(a.address, a.family)) return { allowed: false, reason: 'not_in_allow_list' };
    return { allowed: true };
  }
}

/**
 * One audit row per address and reason per minute: a scanner hammering the gateway must not
 * turn the audit log into its own flood. The map is cleared each minute, so it stays bounded by
 * the distinct addresses seen in one minute.
 */
const MAX_SAMPLED_PER_MINUTE = 10_000;

export class DenialSampler {
  private minute = -1;
  private seen = new Set<string>();

  constructor(private readonly now: () => number) {}

  shouldRecord(address: string, reason: string): boolean {
    const m = Math.floor(this.now() / 60_000);
    if (m !== this.minute) {
      this.minute = m;
      this.seen = new Set();
    }
    const key = `${address}|${reason}`;
    if (this.seen.has(key) || this.seen.size >= MAX_SAMPLED_PER_MINUTE) return false;
    this.seen.add(key);
    return true;
  }
}
