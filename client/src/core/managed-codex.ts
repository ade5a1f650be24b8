/**
 * The policy's Codex block as the gateway serves it to a signed-in developer
 * (GET /managed/codex): keys for the generated profile (`config`), the content of Codex's
 * `requirements.toml` (`requirements`) and the models the gateway lets through. The gateway's
 * own schema (gateway-server/src/protocol/codex.ts) is strict, to refuse typos at boot; this
 * client view is lenient on purpose: a newer gateway may add fields or requirement keys, and an
 * older gateway without the route (404) means "no Codex block".
 */
import { z } from 'zod';
import { stringify } from 'smol-toml';

export const managedCodexReplySchema = z
  .object({
    config: z.record(z.string(), z.unknown()).optional(),
    requirements: z.record(z.string(), z.unknown()).optional(),
    availableModels: z.array(z.string()).optional(),
  })
  .passthrough();
export type ManagedCodex = z.infer<typeof managedCodexReplySchema>;

export async function fetchManagedCodex(gatewayUrl: string, token: string, f: typeof fetch = fetch): Promise<ManagedCodex | undefined> {
  const res = await f(`${gatewayUrl}/managed/codex`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
  if (res.status === 404 || res.status === 204) {
    await res.arrayBuffer().catch(() => undefined);
    return undefined;
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(`the gateway answered HTTP ${res.status} for its Codex policy (GET /managed/codex)`);
  const parsed = managedCodexReplySchema.safeParse(body);
  if (!parsed.success) throw new Error('the gateway sent a Codex policy this version of tollgate does not understand (GET /managed/codex)');
  return parsed.data;
}

/** `requirements.toml` text; Codex reads it from /etc/codex/requirements.toml, which needs an administrator to place. */
export function requirementsToml(requirements: Record<string, unknown>): string {
  return `# Written by \`tollgate setup codex\` from your gateway's policy.\n${stringify(requirements)}\n`;
}
