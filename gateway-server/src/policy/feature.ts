/**
 * Policy: managed settings per IdP group and model access enforced on the server.
 * Everything is computed at boot (policy-set.ts); config mistakes stop boot as ConfigError lines.
 */
import { modelPricingSetting } from '../spend/pricing';
import { ConfigError } from '../config/load';
import type { Feature, FeatureContext } from '../feature';
import type { ModelAccess } from '../inference/hooks';
import { ModelCatalogue } from './model-catalogue';
import { PolicyConfigError, PolicySet } from './policy-set';
import { policyRoutes } from './routes';

const SECRET_ENV = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|HEADERS|AUTH)/i;

/** Settings as logged at boot: env values that look secret are masked. */
export function redactForLog(settings: Record<string, unknown>): Record<string, unknown> {
  const env = settings.env;
  if (!env || typeof env !== 'object') return settings;
  const masked = Object.fromEntries(Object.entries(env as Record<string, unknown>).map(([k, v]) => [k, SECRET_ENV.test(k) ? '[redacted]' : v]));
  return { ...settings, env: masked };
}

export function buildPolicySet(ctx: Pick<FeatureContext, 'config' | 'upstreams'>): PolicySet {
  const { config } = ctx;
  const catalogue = new ModelCatalogue(config.models, config.auto_include_builtin_models, ctx.upstreams);
  try {
    const set = new PolicySet(config.managed.policies, catalogue, {
      telemetry: config.telemetry,
      publicUrl: config.publicUrl,
      allowUnknownCliKeys: config.managed.allow_unknown_cli_keys,
      modelPricing: modelPricingSetting(config.pricing.overrides, config.pricing.multiplier, config.upstreams[0]?.name),
    });
    set.warnings.unshift(...catalogue.warnings);
    return set;
  } catch (err) {
    if (err instanceof PolicyConfigError) throw new ConfigError(err.problems);
    throw err;
  }
}

export async function createPolicyFeature(ctx: FeatureContext): Promise<Feature> {
  const policies = buildPolicySet(ctx);
  for (const w of policies.warnings) ctx.log.warn(w);
  for (const p of policies.policies) {
    ctx.log.info(
      { policy: p.label, match: p.match, settings: redactForLog(p.settings), vscode: p.vscode, checksum: p.checksum, models: p.models.map((m) => m.id) },
      `policy ${p.label} after merge`,
    );
  }
  const access: ModelAccess = {
    resolve: (principal, model, operation) => (operation === 'responses' ? policies.resolveOpenAI(principal, model) : policies.resolve(principal, model)),
  };
  return {
    access,
    routes: (app, c) =>
      policyRoutes(app, {
        auth: c.auth,
        policies,
        publicUrl: c.config.publicUrl,
        relaysTelemetry: (c.config.telemetry?.forward_to.length ?? 0) > 0,
        sessionTtlSeconds: Math.round(c.config.session.ttl_hours * 3600),
        adminGroups: c.config.admin?.admin_groups ?? [],
        now: () => c.clock.now(),
        emit: (e) => c.emit(e),
      }),
  };
}
