/**
 * deploy/kubernetes and deploy/helm: every manifest parses, and the essentials hold (probe
 * paths, non-root and read-only root, secrets only by reference, selectors that match, and a
 * gateway.yaml that validates once its ${VAR}s are supplied). The Helm chart carries the same
 * config and secret wiring as the plain manifests.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { resolveConfig, type Config } from '../../gateway-server/src/config/load';
import { checkBootValidation } from '../../gateway-server/src/ops/checks';

/** Boot's own validation beyond the schema (upstream adapters, compiled policies). */
async function assertBoots(config: Config): Promise<void> {
  const lines = await checkBootValidation(config);
  const failed = lines.filter((l) => l.status !== 'ok');
  assert.deepEqual(failed, [], failed.map((l) => l.detail).join('\n'));
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const K8S = 'deploy/kubernetes';
const HELM = 'deploy/helm/tollgate-gateway';

function docs(file: string): Obj[] {
  const all = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of all) assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return all.map((d) => d.toJS() as Obj).filter(Boolean);
}

const manifests = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => docs(join(K8S, f)).map((d) => ({ file: f, doc: d })));
const byKind = (kind: string) => manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc);

/** Placeholder values for every ${VAR}: what a Secret would supply. */
function envFor(names: string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(names.map((n) => [n, n.includes('POSTGRES') ? 'postgresql://tollgate:pw@db.internal:5432/tollgate' : `${n.toLowerCase()}-0123456789abcdef0123456789abcdef`]));
}

function varsIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
}

describe('deploy/kubernetes manifests', () => {
  const deployment = byKind('Deployment')[0]!;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const configMap = byKind('ConfigMap')[0]!;
  const gatewayYaml = configMap.data['gateway.yaml'] as string;

  it('every file parses and kustomization lists existing files', () => {
    assert.ok(manifests.length >= 7);
    const kust = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as Obj;
    for (const r of kust.resources as string[]) assert.ok(existsSync(join(K8S, r)), `${r} is listed but missing`);
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy']) {
      const m = manifests.find((x) => x.doc.kind === kind);
      assert.ok(m, `${kind} present`);
      assert.ok((kust.resources as string[]).includes(m.file), `${m.file} applied by kustomization`);
    }
    assert.ok(!(kust.resources as string[]).includes('secret.example.yaml'), 'the example Secret is never applied');
  });

  it('probes readiness on /readyz and liveness on /healthz, on the config port', () => {
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    const port = container.ports.find((p: Obj) => p.name === container.readinessProbe.httpGet.port);
    assert.equal(port.containerPort, (parse(gatewayYaml) as Obj).listen.port);
  });

  it('runs non-root with a read-only root filesystem and no privileges', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(pod.terminationGracePeriodSeconds > 25, 'longer than the 25 s drain');
  });

  it('passes secrets only by Secret reference, and supplies every ${VAR} the config uses', () => {
    const env = container.env as Obj[];
    const provided = new Set(env.map((e) => e.name as string));
    for (const v of varsIn(gatewayYaml)) assert.ok(provided.has(v), `${v} used by gateway.yaml but not set`);
    const example = docs(join(K8S, 'secret.example.yaml'))[0]!;
    for (const e of env.filter((x) => /SECRET|KEY|URL/.test(x.name))) {
      assert.ok(e.valueFrom?.secretKeyRef, `${e.name} comes from a Secret`);
      assert.equal(e.valueFrom.secretKeyRef.name, example.metadata.name);
      assert.ok(e.valueFrom.secretKeyRef.key in example.stringData, `${e.valueFrom.secretKeyRef.key} documented in secret.example.yaml`);
    }
    assert.doesNotMatch(gatewayYaml, /sk-ant-|BEGIN .*PRIVATE KEY/);
  });

  it('mounts the ConfigMap where --config points, and the config validates', async () => {
    const args = container.args as string[];
    const path = args[args.indexOf('--config') + 1]!;
    const mount = (container.volumeMounts as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`))!;
    assert.ok(mount, `a volume is mounted at ${path}`);
    assert.equal(mount.readOnly, true);
    const vol = (pod.volumes as Obj[]).find((v) => v.name === mount.name)!;
    assert.equal(vol.configMap.name, configMap.metadata.name);
    assert.ok(path.endsWith('/gateway.yaml') && 'gateway.yaml' in configMap.data);
    const config = resolveConfig(parse(gatewayYaml), envFor(varsIn(gatewayYaml)));
    assert.ok(config.store.postgres_url, 'replicas need a shared PostgreSQL');
    // The root filesystem is read-only: the audit spool needs a writable volume of its own.
    const spoolMount = (container.volumeMounts as Obj[]).find((m) => config.store.spool_dir === m.mountPath);
    assert.ok(spoolMount && !spoolMount.readOnly, `store.spool_dir (${config.store.spool_dir}) is a writable mount`);
    assert.ok((pod.volumes as Obj[]).find((v) => v.name === spoolMount.name)?.emptyDir, 'the spool volume survives container restarts');
    assert.match(config.publicUrl, /^https:\/\//);
    await assertBoots(config);
  });

  it('Service, PDB, HPA and NetworkPolicy select the Deployment\'s pods', () => {
    const labels = deployment.spec.template.metadata.labels as Obj;
    const matches = (sel: Obj) => Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(matches(byKind('Service')[0]!.spec.selector));
    assert.ok(matches(byKind('PodDisruptionBudget')[0]!.spec.selector.matchLabels));
    assert.ok(matches(byKind('NetworkPolicy')[0]!.spec.podSelector.matchLabels));
    assert.ok(matches(deployment.spec.selector.matchLabels));
    const hpa = byKind('HorizontalPodAutoscaler')[0]!;
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.ok(hpa.spec.minReplicas >= 2 && byKind('PodDisruptionBudget')[0]!.spec.minAvailable < hpa.spec.minReplicas);
    const egress = (byKind('NetworkPolicy')[0]!.spec.egress as Obj[]).flatMap((e) => e.ports.map((p: Obj) => p.port));
    for (const p of [53, 5432, 443]) assert.ok(egress.includes(p), `egress to ${p}`);
  });
});

describe('deploy/helm chart', () => {
  const chart = parse(readFileSync(join(HELM, 'Chart.yaml'), 'utf8')) as Obj;
  const values = parse(readFileSync(join(HELM, 'values.yaml'), 'utf8')) as Obj;
  const templates = Object.fromEntries(readdirSync(join(HELM, 'templates')).map((f) => [f, readFileSync(join(HELM, 'templates', f), 'utf8')]));
  const k8sDeployment = byKind('Deployment')[0]!;
  const k8sEnv = k8sDeployment.spec.template.spec.containers[0].env as Obj[];

  it('Chart.yaml is a v2 application chart with a semver version', () => {
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'tollgate-gateway');
    assert.match(chart.version, /^\d+\.\d+\.\d+$/);
  });

  it('renders the same objects as the plain manifests', () => {
    for (const kind of ['ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy']) {
      assert.ok(Object.values(templates).some((t) => new RegExp(`^kind: ${kind}$`, 'm').test(t)), `template for ${kind}`);
    }
    const dep = templates['deployment.yaml']!;
    // With tls.secretName the gateway serves only HTTPS (listen.tls), so the probes must too.
    const scheme = ', scheme: \\{\\{ if \\.Values\\.tls\\.secretName \\}\\}HTTPS\\{\\{ else \\}\\}HTTP\\{\\{ end \\}\\}';
    assert.match(dep, new RegExp(`readinessProbe:\\n\\s+httpGet: \\{ path: /readyz, port: http${scheme} \\}`));
    assert.match(dep, new RegExp(`livenessProbe:\\n\\s+httpGet: \\{ path: /healthz, port: http${scheme} \\}`));
    assert.match(dep, new RegExp(`startupProbe:\\n\\s+httpGet: \\{ path: /healthz, port: http${scheme} \\}`));
    assert.match(dep, /secretKeyRef:\n\s+name: \{\{ \$\.Values\.existingSecret \}\}/);
    assert.match(dep, /args: \["--config", "\/etc\/tollgate\/gateway\.yaml"\]/);
    assert.equal(values.securityContext.readOnlyRootFilesystem, true);
    assert.equal(values.podSecurityContext.runAsNonRoot, true);
  });

  it('wires the same secrets and the same gateway.yaml as deploy/kubernetes', () => {
    const k8sSecretEnv = Object.fromEntries(k8sEnv.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom.secretKeyRef.key]));
    assert.deepEqual(values.secretEnv, k8sSecretEnv);
    assert.equal(values.existingSecret, k8sEnv.find((e) => e.valueFrom)!.valueFrom.secretKeyRef.name);
    const k8sConfig = parse(byKind('ConfigMap')[0]!.data['gateway.yaml']);
    assert.deepEqual(values.config, k8sConfig);
  });

  it('caps the V8 heap below the container memory limit, the same in both (or the kernel kills a busy pod)', () => {
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
    const heap = (opts: string) => Number(/--max-old-space-size=(\d+)/.exec(opts)![1]);
    const k8sOptions = k8sEnv.find((e) => e.name === 'NODE_OPTIONS')!.value as string;
    const k8sLimit = mib(k8sDeployment.spec.template.spec.containers[0].resources.limits.memory);
    assert.ok(heap(k8sOptions) <= 0.8 * k8sLimit, `heap ${heap(k8sOptions)} MiB vs limit ${k8sLimit} MiB`);
    assert.match(k8sOptions, /--enable-source-maps/, 'NODE_OPTIONS replaces the image default: keep its flag');
    assert.equal(values.env.NODE_OPTIONS, k8sOptions);
    assert.ok(heap(values.env.NODE_OPTIONS) <= 0.8 * mib(values.resources.limits.memory));
  });

  it('values.config validates with every referenced variable supplied from secretEnv/env', async () => {
    const vars = varsIn(JSON.stringify(values.config));
    const supplied = new Set([...Object.keys(values.secretEnv), ...Object.keys(values.env)]);
    for (const v of vars) assert.ok(supplied.has(v), `${v} not supplied`);
    await assertBoots(resolveConfig(values.config, envFor(vars)));
  });
});
