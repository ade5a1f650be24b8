/**
 * Sign-in wire contract (RFC 8414 discovery, RFC 8628 device grant, RFC 6749 token responses,
 * RFC 7009 revocation) as Claude Code, the Tollgate extension and any compatible gateway speak it.
 * Response schemas are lenient (`passthrough`): clients must tolerate fields added later.
 */
import { z } from 'zod';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export const authorizationServerMetadataSchema = z
  .object({
    issuer: z.string(),
    device_authorization_endpoint: z.string().url(),
    token_endpoint: z.string().url(),
    revocation_endpoint: z.string().url().optional(),
    grant_types_supported: z.array(z.string()).optional(),
  })
  .passthrough();
export type AuthorizationServerMetadata = z.infer<typeof authorizationServerMetadataSchema>;

export const deviceAuthorizationResponseSchema = z
  .object({
    device_code: z.string().min(1),
    user_code: z.string().min(1),
    verification_uri: z.string().url(),
    verification_uri_complete: z.string().url().optional(),
    expires_in: z.number().int().positive(),
    interval: z.number().int().positive().optional(),
    /** Optional extension: plain text ≤ 500 characters shown beside the code. */
    login_notice: z.string().max(500).optional(),
  })
  .passthrough();
export type DeviceAuthorizationResponse = z.infer<typeof deviceAuthorizationResponseSchema>;

export const tokenResponseSchema = z
  .object({
    access_token: z.string().min(1),
    token_type: z.string(),
    expires_in: z.number().int().positive().optional(),
    refresh_token: z.string().min(1).optional(),
    email: z.string().optional(),
  })
  .passthrough();
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export const oauthErrorCodeSchema = z.enum([
  'authorization_pending',
  'slow_down',
  'access_denied',
  'expired_token',
  'invalid_grant',
  'unsupported_grant_type',
  'unsupported_token_type',
  'invalid_request',
  'temporarily_unavailable',
  'server_error',
]);

export const oauthErrorResponseSchema = z
  .object({ error: z.string(), error_description: z.string().optional() })
  .passthrough();
export type OAuthErrorResponse = z.infer<typeof oauthErrorResponseSchema>;

/** Form fields the token endpoint accepts (unknown fields are ignored, per RFC 6749 §3.2). */
export const tokenRequestSchema = z.discriminatedUnion('grant_type', [
  z.object({ grant_type: z.literal(DEVICE_CODE_GRANT), device_code: z.string().min(1).max(512) }).passthrough(),
  z.object({ grant_type: z.literal('refresh_token'), refresh_token: z.string().min(1).max(8192) }).passthrough(),
]);
