/**
 * A writer that group-commits its own rows can carry other features' pending writes in the same
 * transaction, so a request costs PostgreSQL one write however many features record it. The
 * carrier asks each source for one statement (values inlined, so it can join a multi-statement
 * simple-protocol message) and reports the outcome; a source whose carried batch failed writes
 * it again on its own, so one feature's failure never costs another's rows.
 */
export interface WriteSource {
  hasPending(): boolean;
  /** One statement holding this source's pending items, or undefined when there are none. */
  take(): { sql: string; done(err?: unknown): void } | undefined;
  /** Called with the carrier's "flush soon" function, or undefined when the carrier closes. */
  shareWith(kick: (() => void) | undefined): void;
}
