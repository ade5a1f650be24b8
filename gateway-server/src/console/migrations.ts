/**
 * Console schema (versions 60-69): the rollup tiers the Reports API and the console read, and
 * a flag saying whether they are current (false after a run with `console.enabled: false`, whose
 * writer did not maintain them; the next boot with the console on rebuilds them).
 */
import type { Migration } from '../store/migrate';
import { METRICS, REBUILD_SQL, TIERS, rollupFunctionSql, type Tier } from './rollup';
import { REPORT_FUNCTION } from './reports';

export const CONSOLE_MIGRATIONS: Migration[] = [
  {
    version: 60,
    name: 'console_rollup_hourly',
    sql: `
CREATE TABLE IF NOT EXISTS console_rollup_hourly (
  hour timestamptz NOT NULL,
  sub text NOT NULL,
  groups jsonb NOT NULL,
  model text NOT NULL,
  upstream text NOT NULL,
  requests bigint NOT NULL,
  errors bigint NOT NULL,
  input_tokens bigint NOT NULL,
  output_tokens bigint NOT NULL,
  cache_write_tokens bigint NOT NULL,
  cache_read_tokens bigint NOT NULL,
  cost_micros bigint NOT NULL,
  PRIMARY KEY (hour, sub, groups, model, upstream)
);
CREATE INDEX IF NOT EXISTS console_rollup_hourly_sub ON console_rollup_hourly (sub, hour);
CREATE TABLE IF NOT EXISTS console_rollup_state (
  id integer PRIMARY KEY,
  current boolean NOT NULL
);
INSERT INTO console_rollup_state (id, current) VALUES (1, true) ON CONFLICT (id) DO NOTHING;
`,
  },
  {
    // The hourly per-user rollup was about as large as the audit log at scale (one request per
    // user × hour): replaced by tiers without the user dimension plus a per-user tier (rollup.ts).
    version: 61,
    name: 'console_rollup_tiers',
    sql: `
${tierTable(TIERS.mu)}
${tierTable(TIERS.group)}
${tierTable(TIERS.user)}
CREATE INDEX IF NOT EXISTS console_rollup_user_sub ON console_rollup_user (sub, grain, t);
CREATE TABLE IF NOT EXISTS console_user_last_seen (sub text PRIMARY KEY, last_t timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS console_user_last_seen_t ON console_user_last_seen (last_t);
DROP TABLE IF EXISTS console_rollup_hourly;
${REBUILD_SQL}
${REPORT_FUNCTION}
${rollupFunctionSql()}
`,
  },
];

function tierTable(t: Tier): string {
  return `CREATE TABLE IF NOT EXISTS ${t.table} (
  grain integer NOT NULL,
  t timestamptz NOT NULL,
  ${t.keys.map((k) => `${k} text NOT NULL`).join(',\n  ')},
  ${METRICS.map((m) => `${m} bigint NOT NULL`).join(',\n  ')},
  PRIMARY KEY (grain, t, ${t.keys.join(', ')})
);`;
}
