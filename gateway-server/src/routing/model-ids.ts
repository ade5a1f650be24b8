/**
 * Model IDs per cloud. Policy's ModelAccess hands each adapter an upstream model ID; when that is
 * still an Anthropic ID of a built-in model (pass-through access, or a catalogue entry without an
 * upstream_model override) the adapter maps it to the cloud's ID here.
 */
import { findBuiltinModel, providerModelId } from '../policy/builtin-models';

export function cloudModelId(provider: 'bedrock' | 'vertex', id: string): string {
  const builtin = findBuiltinModel(id);
  return builtin ? providerModelId(builtin, provider) : id;
}

/**
 * The Bedrock model path segment. ARNs (provisioned throughput, application inference profiles)
 * are percent-encoded whole; other IDs keep their raw `:` as the official clients send it
 * (SigV4's canonical path then encodes it as %3A).
 */
export function bedrockPathSegment(id: string): string {
  if (id.startsWith('arn:')) return encodeURIComponent(id);
  return encodeURIComponent(id).replace(/%3A/gi, ':');
}

const PROFILE_PREFIX = /^(us|eu|apac|au|jp|ca|us-gov|global)\./;

/** CountTokens takes the foundation-model ID: the inference profile without its geography prefix. ARNs have none. */
export function bedrockFoundationId(id: string): string | undefined {
  if (id.startsWith('arn:')) return undefined;
  return id.replace(PROFILE_PREFIX, '');
}

/** The request-tags beta (tags are a first-party API feature the clouds reject). */
export const REQUEST_TAGS_BETA = /^request-tags-/;

/** anthropic-beta header values, without the request-tags beta. */
export function betaList(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '' && !REQUEST_TAGS_BETA.test(b));
}
