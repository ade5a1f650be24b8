// Regenerates docs/errors.md from the catalogue: `node --import tsx scripts/gen-errors-doc.ts`.
import { writeFileSync } from 'node:fs';
import { ERRORS } from '../gateway-server/src/errors';

let out = `# Error codes

Every error the gateway returns on bearer and admin routes uses the Anthropic envelope
\`{"type":"error","error":{"type":…,"message":…},"request_id":…}\`. Code inside the gateway and
the extension matches on the stable code below, never on message text. OAuth endpoints use
RFC 6749 \`{"error","error_description"}\` instead. A unit test fails when this table and
\`gateway-server/src/errors.ts\` disagree (regenerate with \`node --import tsx scripts/gen-errors-doc.ts\`).

| Code | HTTP | error.type | Default message | x-should-retry: false |
|---|---|---|---|---|
`;
for (const [code, e] of Object.entries(ERRORS)) {
  out += `| \`${code}\` | ${e.status} | \`${e.type}\` | ${e.message} | ${'noRetry' in e && e.noRetry ? 'yes' : ''} |\n`;
}
writeFileSync('docs/errors.md', out);
