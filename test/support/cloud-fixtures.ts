/** Shared pieces of the Bedrock/Vertex tests: the scripted answer, upstream configs, a raw POST. */
import type { ScriptedReply } from '../../gateway-server/src/routing/sse';
import { DEFAULT_REPLY } from './mock-anthropic';
import { TEST_AWS } from './mock-bedrock';

export type Captured = Record<string, unknown> & { msg: string };

/** One answer with a thinking block, text and a tool call, the same from every mock. */
export const SCRIPTED: ScriptedReply = {
  ...DEFAULT_REPLY,
  model: 'claude-sonnet-4-6',
  text: 'Let me look that up for you.',
  thinking: { text: 'The user wants the weather; call the tool.', signature: 'c2lnbmF0dXJlLW9mLXRoaW5raW5n' },
  toolUse: { id: 'toolu_mock_01', name: 'get_weather', input: { city: 'Paris', unit: 'celsius' } },
  inputTokens: 31,
  outputTokens: 57,
  cacheReadInputTokens: 5,
};

export function bedrockConfig(baseUrl: string, auth: Record<string, string> = {}, name = 'bedrock') {
  return {
    name,
    provider: 'bedrock' as const,
    region: TEST_AWS.region,
    base_url: baseUrl,
    auth: {
      aws_access_key_id: TEST_AWS.accessKeyId,
      aws_secret_access_key: TEST_AWS.secretAccessKey,
      aws_session_token: TEST_AWS.sessionToken,
      ...auth,
    },
  };
}

export function vertexConfig(baseUrl: string, auth: Record<string, string> = {}, name = 'vertex') {
  return { name, provider: 'vertex' as const, region: 'us-east5', project_id: 'tollgate-test', base_url: baseUrl, auth };
}

export async function rawPost(
  gw: { url: string; mint(): string },
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.mint()}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
