/**
 * Whether PostgreSQL answers, as the gateway last saw it. Fed by every query's outcome (no extra
 * traffic while healthy) and by a probe while it is down; read by /readyz, the audit spool and the
 * spend gate. Pure: no database, no framework.
 */

/** SQLSTATE classes and socket errors that mean "the server is not there", not "this query is wrong". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up / shutting down
  '53300', // too_many_connections
]);

const UNREACHABLE_MESSAGES = [
  /connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection (is )?(closed|ended)/i,
  /Client has encountered a connection error/i,
  /Connection terminated unexpectedly/i,
  /timed out after \d+ ms/i,
  /did not answer within/i,
  /cannot use a pool after calling end/i,
];

/** True when `err` says the store could not be reached (as opposed to a bad statement). */
export function isStoreUnreachableError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGES.some((re) => re.test(e.message as string))) return true;
  if (Array.isArray(e.errors) && e.errors.some(isStoreUnreachableError)) return true;
  return e.cause !== undefined && e.cause !== err && isStoreUnreachableError(e.cause);
}

export class StoreHealth {
  private reachable_: boolean;
  /** When the store was last seen unreachable after being reachable (ms), for the readiness grace. */
  private downSince: number | undefined;
  private readonly listeners = new Set<(reachable: boolean) => void>();
  /** Transitions seen, for /healthz detail and tests. */
  outages = 0;

  constructor(
    private readonly now: () => number = Date.now,
    initiallyReachable = true,
  ) {
    this.reachable_ = initiallyReachable;
    if (!initiallyReachable) this.downSince = now();
  }

  get reachable(): boolean {
    return this.reachable_;
  }

  /** How long the store has been unreachable (0 when reachable). */
  downForMs(): number {
    return this.reachable_ || this.downSince === undefined ? 0 : this.now() - this.downSince;
  }

  up(): void {
    if (this.reachable_) return;
    this.reachable_ = true;
    this.downSince = undefined;
    for (const fn of this.listeners) fn(true);
  }

  down(): void {
    if (!this.reachable_) return;
    this.reachable_ = false;
    this.downSince = this.now();
    this.outages++;
    for (const fn of this.listeners) fn(false);
  }

  /** Record a query's failure: only connection-level errors count. */
  observe(err: unknown): void {
    if (isStoreUnreachableError(err)) this.down();
  }

  onChange(fn: (reachable: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
