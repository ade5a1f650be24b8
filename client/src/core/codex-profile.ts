/**
 * The Codex profile `tollgate setup codex` (and the extension's "Set Up Codex") writes into
 * `$CODEX_HOME/config.toml` (codex-client.md): a model provider pointing at the gateway's
 * OpenAI-compatible root with the Responses wire API and a per-user credential, plus a
 * `[profiles.<name>]` table carrying the policy's Codex keys. Everything else in the file is
 * kept; only the provider and profile tables this writes are replaced. Pure: text in, text out.
 */
import { parse, stringify } from 'smol-toml';

export type CodexAuth =
  /** `tollgate token`: Codex runs it at start and again after every 401, and sends its stdout as the bearer. */
  | { kind: 'command'; command: string; args: string[] }
  /** The extension's loopback proxy: the window's local secret, from an environment variable its terminals carry. */
  | { kind: 'env'; envKey: string };

export interface CodexProfileInput {
  /** e.g. https://gateway.example.com/v1 (Codex appends /responses and /models). */
  baseUrl: string;
  auth: CodexAuth;
  /** Provider and profile table name. */
  name: string;
  /** Also make it the default (`profile = "<name>"` at the top level). */
  makeDefault: boolean;
  model?: string;
  /** The policy's `codex.config` keys (GET /managed/codex), written into the profile. */
  policyConfig?: Record<string, unknown>;
}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export function parseCodexConfig(text: string, path: string): Table {
  try {
    return parse(text) as Table;
  } catch (err) {
    throw new Error(`${path} is not valid TOML (${(err as Error).message.split('\n')[0]}); fix or move it, then run the setup again. Nothing was changed.`);
  }
}

export function providerTable(input: CodexProfileInput): Table {
  const provider: Table = {
    name: 'Tollgate gateway',
    base_url: input.baseUrl,
    wire_api: 'responses',
    // The gateway answers a WebSocket upgrade with 426; not asking saves a round trip per turn.
    supports_websockets: false,
  };
  if (input.auth.kind === 'env') {
    provider.env_key = input.auth.envKey;
    provider.env_key_instructions = 'Open a new terminal in the VS Code window where the Tollgate extension is signed in.';
  } else {
    // refresh_interval_ms 0: run at start and after a 401 only; the command refreshes when needed.
    provider.auth = { command: input.auth.command, args: input.auth.args, timeout_ms: 30_000, refresh_interval_ms: 0 };
  }
  return provider;
}

/** Returns the new file text. Throws (with nothing written) when the existing text is not TOML. */
export function mergeCodexConfig(existing: string, input: CodexProfileInput, path = 'config.toml'): string {
  const doc = existing.trim() ? parseCodexConfig(existing, path) : {};
  const providers = isTable(doc.model_providers) ? doc.model_providers : {};
  providers[input.name] = providerTable(input);
  doc.model_providers = providers;
  const profiles = isTable(doc.profiles) ? doc.profiles : {};
  profiles[input.name] = {
    ...(input.policyConfig ?? {}),
    model_provider: input.name,
    ...(input.model ? { model: input.model } : {}),
  };
  doc.profiles = profiles;
  if (input.makeDefault) doc.profile = input.name;
  return stringify(doc) + '\n';
}
