/** The gateway's version, sent as `x-cc-gateway-version` and shown on the landing page. */
export const GATEWAY_VERSION = '0.1.0';
