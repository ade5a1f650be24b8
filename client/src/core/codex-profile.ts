/**
 * The Codex profile `tollgate setup codex` (and the extension's "Set Up Codex") writes into
 * `$CODEX_HOME` (codex-client.md): a model provider pointing at the gateway's OpenAI-compatible
 * root with the Responses wire API and a per-user credential, in a profile file of its own with
 * the policy's Codex keys, and optionally as the default in config.toml, where everything else
 * the developer has is kept. Pure: text in, text out.
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
  /** Also make it Codex's default provider in config.toml (else only `codex --profile <name>` uses it). */
  makeDefault?: boolean;
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

/**
 * `$CODEX_HOME/<name>.config.toml`, the profile `codex --profile <name>` reads (Codex 0.171 keeps
 * each profile in its own file and refuses `profile = …` / `[profiles.<name>]` in config.toml):
 * the policy's Codex keys, then the model and the provider, which the policy cannot override.
 */
export function profileFileText(input: CodexProfileInput, policyConfig: Record<string, unknown> = {}, writer = 'tollgate setup codex'): string {
  const { model_provider: _p, model_providers: _ps, profile: _s, profiles: _pr, ...policy } = policyConfig;
  const doc: Table = {
    ...policy,
    ...(input.model ? { model: input.model } : {}),
    model_provider: input.name,
    model_providers: { [input.name]: providerTable(input) },
  };
  return `# Written by Tollgate (${writer}); run it again to update. Used by \`codex --profile ${input.name}\`.\n${stringify(doc)}\n`;
}

/**
 * config.toml with the provider made Codex's default (`model_provider` plus its table, and the
 * model when given, and the policy's keys the developer has not set); everything else the
 * developer has is kept. Throws, with nothing written,
 * when the existing text is not TOML.
 */
export function withDefaultProvider(existing: string, input: CodexProfileInput, path = 'config.toml', policyConfig: Record<string, unknown> = {}): string {
  const doc = existing.trim() ? parseCodexConfig(existing, path) : {};
  // The policy's keys are defaults here: what the developer set stays (the profile file and
  // requirements.toml are where a policy's values win).
  const { model_provider: _p, model_providers: _ps, profile: _s, profiles: _pr, ...policy } = policyConfig;
  for (const [k, v] of Object.entries(policy)) if (!(k in doc)) doc[k] = v;
  const providers = isTable(doc.model_providers) ? doc.model_providers : {};
  providers[input.name] = providerTable(input);
  doc.model_providers = providers;
  doc.model_provider = input.name;
  if (input.model) doc.model = input.model;
  // Codex 0.171 refuses to start with legacy profile keys; drop the ones an older setup wrote.
  if (doc.profile === input.name) delete doc.profile;
  if (isTable(doc.profiles)) {
    delete doc.profiles[input.name];
    if (!Object.keys(doc.profiles).length) delete doc.profiles;
  }
  return stringify(doc) + '\n';
}
