/** The gateway address the developer types when signing in with none set. Pure: no `vscode`. */
import { normaliseBaseUrl } from '../auth/device-flow';

/** A sentence saying what is wrong with `text`, or undefined when it is a usable gateway URL. */
export function gatewayUrlProblem(text: string): string | undefined {
  const t = text.trim();
  if (!t) return 'Enter your gateway\'s address, for example https://gateway.example.com.';
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return `"${t}" is not an address. Start it with https://, for example https://gateway.example.com.`;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'The address must start with https:// (or http:// for a gateway on this machine).';
  if (u.username || u.password) return 'Leave the user name and password out of the address: you sign in on the gateway\'s page.';
  if (u.search || u.hash) return 'Enter the gateway\'s base address only, without ? or #.';
  return undefined;
}

export function normaliseGatewayInput(text: string): string {
  return normaliseBaseUrl(new URL(text.trim()).toString());
}

/**
 * What a gateway switch says. `asked`: the developer chose "Switch Gateway…" (sign-in at the new
 * gateway starts at once); otherwise the setting was edited and a Sign In button is offered.
 */
export function switchSentence(o: { from: string | undefined; to: string; restoredAs?: string | undefined; asked: boolean }): string {
  const kept = o.from ? ` Your session at ${o.from} is kept for when you switch back.` : '';
  const out = o.from ? `Signed out of ${o.from}, ` : '';
  if (!o.to) return `${o.from ? `Signed out of ${o.from}: ` : ''}no Tollgate gateway is set.${kept}`;
  if (o.restoredAs) return `${o.from ? `${out}signed` : 'Signed'} in to ${o.to} as ${o.restoredAs}.${kept}`;
  if (o.asked) return o.from ? `${out}signing in to ${o.to}.${kept}` : `Signing in to ${o.to}.`;
  return `${out}Tollgate now uses ${o.to}.${kept} Sign in to continue.`;
}
