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
