/**
 * The message contract between the Tollgate extension host and its sidebar webview.
 * Both sides parse every incoming message with these schemas: the webview is less trusted
 * than the host, and the host's state shapes must not drift from what the view renders.
 *
 * Flow: the webview posts `view/ready`; the host answers with `state/update` (and again on
 * every change). Requests carry an `id`; the host answers with `rpc/result` of the same id.
 */
import { z } from 'zod';

/** One cap with its period, amounts in USD cents and utilisation in whole percent. */
export const capViewSchema = z.object({
  period: z.enum(['daily', 'weekly', 'monthly']),
  limitCents: z.number().nullable(),
  usedCents: z.number(),
  percent: z.number().nullable(),
  resetsAt: z.string().nullable(),
  active: z.boolean(),
});
export type CapView = z.infer<typeof capViewSchema>;

export const recentRequestSchema = z.object({
  at: z.string(),
  model: z.string(),
  status: z.number().int(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  /** The gateway's request id (response header `request-id`), to look the charge up. */
  requestId: z.string().nullable(),
  /** What the gateway charged, from GET /v1/me/requests; null until known (or spend limits off). */
  costMicros: z.number().nullable(),
  durationMs: z.number(),
});
export type RecentRequest = z.infer<typeof recentRequestSchema>;

/** An agent request the gateway just refused: over cap, or blocked with the gateway's reason. */
export const blockViewSchema = z.object({
  kind: z.enum(['overCap', 'blocked']),
  status: z.number().int(),
  reason: z.string(),
  at: z.string(),
  /** When the block lifts (the cap's reset), if the gateway said. */
  until: z.string().nullable(),
});
export type BlockView = z.infer<typeof blockViewSchema>;

/** One rule of the developer's policy with its value: a Claude Code setting or a VS Code setting. */
export const policyRuleSchema = z.object({ key: z.string(), value: z.string(), target: z.enum(['claude', 'vscode']) });
export type PolicyRule = z.infer<typeof policyRuleSchema>;

export const sidebarStateSchema = z.object({
  gatewayUrl: z.string(),
  signedIn: z.boolean(),
  account: z.object({ id: z.string(), email: z.string().nullable(), name: z.string().nullable(), groups: z.array(z.string()) }).nullable(),
  policy: z.object({ name: z.string().nullable(), models: z.array(z.string()), available: z.boolean() }),
  caps: z.array(capViewSchema),
  spend: z.object({ usedCents: z.number(), currency: z.string() }).nullable(),
  status: z.object({ text: z.string(), severity: z.enum(['ok', 'warning', 'error', 'offline', 'signedOut']), tooltip: z.string() }),
  recent: z.array(recentRequestSchema),
  health: z.object({ reachable: z.boolean(), ready: z.boolean().nullable(), checkedAt: z.string().nullable(), detail: z.string() }),
  proxy: z.object({ url: z.string().nullable() }),
  managedSettings: z.object({ checksum: z.string().nullable(), appliedKeys: z.array(z.string()), rules: z.array(policyRuleSchema) }),
  block: blockViewSchema.nullable(),
  /** A sign-in waiting for the browser: the code to confirm there. */
  signIn: z.object({ userCode: z.string(), verificationUri: z.string() }).nullable(),
});
export type SidebarState = z.infer<typeof sidebarStateSchema>;

/** Commands the webview may ask the host to run; nothing else is reachable from it. */
export const webviewCommandSchema = z.enum(['signIn', 'signOut', 'refresh', 'openGatewayStatus', 'copySignInCode']);
export type WebviewCommand = z.infer<typeof webviewCommandSchema>;

const rpcId = z.number().int().nonnegative();
export const webviewToHostSchema = z.union([
  z.object({ type: z.literal('view/ready') }).strict(),
  z.object({ type: z.literal('rpc/request'), id: rpcId, method: z.literal('command/run'), params: z.object({ command: webviewCommandSchema }).strict() }).strict(),
  z.object({ type: z.literal('rpc/request'), id: rpcId, method: z.literal('state/get'), params: z.object({}).strict() }).strict(),
]);
export type WebviewToHost = z.infer<typeof webviewToHostSchema>;

export const hostToWebviewSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state/update'), state: sidebarStateSchema }),
  z.object({ type: z.literal('rpc/result'), id: rpcId, ok: z.boolean(), error: z.string().optional() }),
]);
export type HostToWebview = z.infer<typeof hostToWebviewSchema>;
