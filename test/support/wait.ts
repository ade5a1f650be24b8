/**
 * Waiting on observable state instead of sleeping: `waitFor` polls a probe until it says done.
 * The attempt ceiling is there only so a wait that can never finish fails with a sentence (what
 * was awaited and what was last seen) rather than at mocha's timeout; it is never a speed assertion.
 */
export interface WaitOptions {
  /** Milliseconds between probes (default 20). */
  intervalMs?: number;
  /** Probes before giving up (default 1500: half a minute at the default interval). */
  attempts?: number;
}

type Falsy = undefined | null | false | 0 | '';

/**
 * Polls `probe` until it returns a truthy value, and returns that value. A probe that throws is
 * retried (the thing awaited may not be reachable yet). `what` finishes the sentence
 * "timed out waiting until …".
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | Falsy> | T | Falsy, opts: WaitOptions = {}): Promise<T> {
  const interval = opts.intervalMs ?? 20;
  const attempts = opts.attempts ?? 1500;
  let last: T | Falsy = undefined;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      last = await probe();
      lastError = undefined;
      if (last) return last;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  const seen = lastError ? `the probe threw ${String(lastError)}` : `the probe last returned ${JSON.stringify(last)}`;
  throw new Error(`timed out waiting until ${what} (${attempts} probes, ${seen})`);
}
