/**
 * The console feature: rollup tiers maintained on the audit writer's write path, the Reports
 * API over them, and (console.enabled, on by default) the web console. With the console off the
 * writer does not maintain rollups and the Reports API is not served; the flag in
 * console_rollup_state records that, and the next boot with the console on rebuilds the rollups
 * from the audit log before serving.
 */
import type { Feature, FeatureContext } from '../feature';
import { AdminAuthenticator } from '../admin/admin-auth';
import { REBUILD_SQL, rollupSql } from './rollup';
import { reportRoutes } from './reports-routes';
import { registerFormParser } from '../auth/oauth-routes';
import { CookieSigner } from './web/session';
import { consoleAuthRoutes } from './web/auth-routes';
import { consolePageRoutes } from './web/routes';

export async function createConsoleFeature(ctx: FeatureContext): Promise<Feature> {
  const enabled = ctx.config.console?.enabled !== false;
  if (!enabled) {
    await ctx.db.query('UPDATE console_rollup_state SET current = false WHERE id = 1');
    return {};
  }
  await ctx.db.transaction(async (tx) => {
    // Rows for update: two replicas booting at once rebuild once.
    const { rows } = await tx.query<{ current: boolean }>('SELECT current FROM console_rollup_state WHERE id = 1 FOR UPDATE');
    if (rows[0]?.current !== false) return;
    for (const sql of REBUILD_SQL.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(sql);
    await tx.query('UPDATE console_rollup_state SET current = true WHERE id = 1');
    ctx.log.info({ evt: 'console.rollups_rebuilt' }, 'console rollups rebuilt from the audit log (the console was off)');
  });
  const audit = ctx.features.audit;
  if (!audit?.deriveWrites) throw new Error('the console needs the audit feature (its writer maintains the rollups)');
  audit.deriveWrites(rollupSql);
  return {
    async routes(app, rctx) {
      const admin = new AdminAuthenticator(rctx.config, rctx.auth, (e) => rctx.emit(e));
      await reportRoutes(app, { admin, db: rctx.db });
      const origin = new URL(rctx.config.publicUrl).origin;
      const c = { app, fctx: rctx, origin, cookies: new CookieSigner(rctx.config.session.jwt_secret[0]!, origin.startsWith('https:')) };
      registerFormParser(app);
      await consoleAuthRoutes(app, c);
      await consolePageRoutes(app, c);
    },
  };
}
