/**
 * Every schema migration, in version order. Append only; never edit a shipped entry.
 * Version ranges by feature keep parallel work from colliding:
 *   1-9 core · 10-19 identity · 20-29 spend/admin · 30-39 audit · 40-49 policy · 50-59 routing · 60-69 console
 */
import type { Migration } from './migrate';
import { AUDIT_MIGRATIONS } from '../audit/migrations';
import { CONSOLE_MIGRATIONS } from '../console/migrations';
import { SPEND_FUNCTIONS_SQL, SPEND_LEASES_SQL, SPEND_TABLES_SQL } from '../spend/schema-sql';

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'kv',
    sql: `
CREATE TABLE IF NOT EXISTS kv (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at);
`,
  },
  {
    version: 10,
    name: 'identity_revocations',
    sql: `
CREATE TABLE IF NOT EXISTS revoked_sessions (
  sid text PRIMARY KEY,
  sub text,
  revoked_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_sessions_expires_at ON revoked_sessions (expires_at);
CREATE TABLE IF NOT EXISTS revoked_users (
  sub text PRIMARY KEY,
  revoked_before timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_users_expires_at ON revoked_users (expires_at);
`,
  },
  { version: 20, name: 'spend_tables', sql: SPEND_TABLES_SQL },
  { version: 21, name: 'spend_functions', sql: SPEND_FUNCTIONS_SQL },
  { version: 22, name: 'spend_leases', sql: SPEND_LEASES_SQL },
  ...AUDIT_MIGRATIONS,
  ...CONSOLE_MIGRATIONS,
];
