/**
 * The last line of defence: a promise rejection or exception nobody handled is logged and
 * counted, never allowed to end the process. Node's default (exit on an unhandled rejection)
 * turned every PostgreSQL restart into an outage of every agent (issue 15). Request-path promises
 * still get handlers from birth; this only catches what escapes, and /healthz?detail shows the
 * count so an escape is visible instead of silent.
 */

export interface GuardCounts {
  unhandledRejections: number;
  uncaughtExceptions: number;
}

const counts: GuardCounts = { unhandledRejections: 0, uncaughtExceptions: 0 };
let installed: { rejection: (r: unknown) => void; exception: (e: Error) => void } | undefined;

export function guardCounts(): Readonly<GuardCounts> {
  return { ...counts };
}

function describe(reason: unknown): string {
  if (reason instanceof Error) return `${reason.message}${(reason as { code?: string }).code ? ` (${(reason as { code?: string }).code})` : ''}`;
  return String(reason);
}

/** Install once per process; later calls only swap the log sink. Returns an uninstaller (tests). */
export function installProcessGuards(log: (msg: string) => void): () => void {
  if (installed) {
    process.off('unhandledRejection', installed.rejection);
    process.off('uncaughtException', installed.exception);
  }
  const rejection = (reason: unknown) => {
    counts.unhandledRejections++;
    log(`unhandled promise rejection (kept running; ${counts.unhandledRejections} so far): ${describe(reason)}`);
  };
  const exception = (err: Error) => {
    counts.uncaughtExceptions++;
    log(`uncaught exception (kept running; ${counts.uncaughtExceptions} so far): ${describe(err)}\n${err?.stack ?? ''}`);
  };
  process.on('unhandledRejection', rejection);
  process.on('uncaughtException', exception);
  installed = { rejection, exception };
  return () => {
    process.off('unhandledRejection', rejection);
    process.off('uncaughtException', exception);
    if (installed?.rejection === rejection) installed = undefined;
  };
}
