/**
 * The real OpenID provider tests sign in against (oidc-provider in-process on loopback, via the
 * same module as the development IdP), with controls for the faults a real IdP has: users
 * deprovisioned or moved between groups, the IdP going down. `completeDeviceSignIn` drives the
 * browser leg headless (fetch + a cookie jar), as a person would: open the link, confirm the
 * code, log in and consent at the IdP, land on the gateway's callback.
 */
import { DEMO_USERS, startDevIdp, type DevIdp, type IdpUser } from '../../gateway-server/src/auth/dev-idp';

export const TEST_CLIENT_ID = 'tollgate-test';
export const TEST_CLIENT_SECRET = 'test-client-secret-0123456789abcdef';

export const TEST_USERS: IdpUser[] = [
  ...DEMO_USERS,
  { login: 'carol', email: 'carol@example.com', name: 'Carol Unverified', groups: ['engineering'], email_verified: false },
  { login: 'dave', email: 'dave@other.test', name: 'Dave Elsewhere', groups: ['engineering'] },
];

export interface TestIdp {
  issuer: string;
  idp: DevIdp;
  deprovision(login: string): void;
  setGroups(login: string, groups: string[]): void;
  setAvailable(up: boolean): void;
  /** The `oidc:` block for a gateway whose callback is `{gatewayUrl}/oauth/callback`. */
  oidcConfig(extra?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The gateway's redirect URI must be registered at the IdP, so pass the gateway's future public
 * URL (pick the port first with `freePort()`), or several.
 */
export async function startTestIdp(opts: {
  redirectUris: string[];
  claimsInIdToken?: boolean;
  users?: IdpUser[];
  tls?: { key: Buffer; cert: Buffer };
  clientJwks?: { keys: Record<string, unknown>[] };
  signingJwk?: Record<string, unknown>;
}): Promise<TestIdp> {
  const idp = await startDevIdp({
    clientId: TEST_CLIENT_ID,
    clientSecret: TEST_CLIENT_SECRET,
    redirectUris: opts.redirectUris,
    users: opts.users ?? TEST_USERS,
    claimsInIdToken: opts.claimsInIdToken,
    tls: opts.tls,
    clientJwks: opts.clientJwks,
    signingJwk: opts.signingJwk,
  });
  return {
    issuer: idp.issuer,
    idp,
    deprovision: (login) => void idp.users.delete(login),
    setGroups(login, groups) {
      const u = idp.users.get(login);
      if (!u) throw new Error(`no such test user ${login}`);
      u.groups = [...groups];
    },
    setAvailable: (up) => idp.setAvailable(up),
    oidcConfig: (extra = {}) => ({
      issuer: idp.issuer,
      client_id: TEST_CLIENT_ID,
      client_secret: TEST_CLIENT_SECRET,
      allow_insecure_issuer: true,
      // oidc-provider issues refresh tokens for offline_access only with prompt=consent (as Google does).
      extra_auth_params: { prompt: 'consent' },
      ...extra,
    }),
    close: () => idp.close(),
  };
}

/** A minimal cookie jar: name=value per origin, enough for the gateway and oidc-provider cookies. */
export class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();
  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    const jar = this.byOrigin.get(origin) ?? new Map<string, string>();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    this.byOrigin.set(origin, jar);
  }
  header(url: string): string | undefined {
    const jar = this.byOrigin.get(new URL(url).origin);
    return jar && jar.size ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  has(url: string, name: string): boolean {
    return this.byOrigin.get(new URL(url).origin)?.has(name) ?? false;
  }
}

export interface BrowserPage {
  url: string;
  status: number;
  html: string;
  headers: Headers;
}

export interface SignInOptions {
  /** IdP login name (test users: alice, bob, carol, dave). */
  login: string;
  /** Press Deny on the confirmation page instead of Continue. */
  deny?: boolean;
  /** Rewrite the IdP authorization URL before following it (state/nonce tampering tests). */
  tamperAuthorizationUrl?: (url: URL) => URL;
  /** Called with the callback URL just before the browser lands on it (e.g. take the IdP down). */
  beforeCallback?: (callbackUrl: string) => Promise<void> | void;
  /** Headers the confirmation POST carries; default a same-origin browser's. */
  confirmHeaders?: Record<string, string>;
  fetch?: typeof fetch;
  jar?: CookieJar;
}

function formOf(html: string, pageUrl: string): { action: string; fields: URLSearchParams } {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const m of form[2]!.matchAll(/<input([^>]*)>/gi)) {
    const name = /name="([^"]*)"/.exec(m[1]!)?.[1];
    const value = /value="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    if (name) fields.set(name, value.replace(/&amp;/g, '&').replace(/&quot;/g, '"'));
  }
  return { action: new URL(form[1]!.replace(/&amp;/g, '&'), pageUrl).href, fields };
}

/**
 * Complete the browser leg of a device sign-in headless. Returns the last page (the gateway's
 * result page: "You are signed in", or the page explaining a refusal).
 */
type Go = (url: string, init?: RequestInit) => Promise<BrowserPage>;

/** A headless browser tab: follows redirects by hand, keeping cookies in `jar`. */
function browser(jar: CookieJar, f: typeof fetch, gatewayOrigin: string, opts: Pick<SignInOptions, 'tamperAuthorizationUrl' | 'beforeCallback'> = {}): Go {
  return async (url, init = {}) => {
    let current = url;
    let req = init;
    for (let hops = 0; hops < 20; hops++) {
      const headers = new Headers(req.headers);
      const cookie = jar.header(current);
      if (cookie) headers.set('cookie', cookie);
      const res = await f(current, { ...req, headers, redirect: 'manual' });
      jar.store(current, res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        let next = new URL(location, current);
        if (new URL(current).origin === gatewayOrigin && next.origin !== gatewayOrigin && opts.tamperAuthorizationUrl) next = opts.tamperAuthorizationUrl(next);
        if (next.origin === gatewayOrigin && next.pathname === '/oauth/callback') await opts.beforeCallback?.(next.href);
        current = next.href;
        req = {};
        await res.arrayBuffer();
        continue;
      }
      return { url: current, status: res.status, html: await res.text(), headers: res.headers };
    }
    throw new Error('too many redirects');
  };
}

/** At the IdP: a login form, then consent; each a POST that redirects onwards, until back at the gateway. */
async function idpLeg(go: Go, first: BrowserPage, login: string, gatewayOrigin: string): Promise<BrowserPage> {
  let page = first;
  for (let step = 0; step < 4 && new URL(page.url).origin !== gatewayOrigin; step++) {
    if (page.status !== 200) return page;
    const form = formOf(page.html, page.url);
    if (form.fields.get('prompt') === 'login') {
      form.fields.set('login', login);
      form.fields.set('password', 'any-password');
    }
    page = await go(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.fields.toString() });
  }
  return page;
}

/**
 * Complete the browser leg of a device sign-in headless. Returns the last page (the gateway's
 * result page: "You are signed in", or the page explaining a refusal).
 */
export async function completeDeviceSignIn(verificationUriComplete: string, opts: SignInOptions): Promise<BrowserPage> {
  const jar = opts.jar ?? new CookieJar();
  const gatewayOrigin = new URL(verificationUriComplete).origin;
  const go = browser(jar, opts.fetch ?? fetch, gatewayOrigin, opts);
  const confirm = await go(verificationUriComplete);
  if (confirm.status !== 200) return confirm;
  const { fields } = formOf(confirm.html, confirm.url);
  const action = new URL(opts.deny ? '/device/deny' : '/device', gatewayOrigin).href;
  const page = await go(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: gatewayOrigin, 'sec-fetch-site': 'same-origin', ...opts.confirmHeaders },
    body: new URLSearchParams({ user_code: fields.get('user_code') ?? '' }).toString(),
  });
  return idpLeg(go, page, opts.login, gatewayOrigin);
}

/** Sign in to the admin console headless (/console/login, the IdP, back); `jar` then holds the console cookie. */
export async function consoleSignIn(gatewayUrl: string, login: string, jar = new CookieJar()): Promise<{ jar: CookieJar; page: BrowserPage }> {
  const gatewayOrigin = new URL(gatewayUrl).origin;
  const go = browser(jar, fetch, gatewayOrigin);
  const page = await idpLeg(go, await go(`${gatewayUrl}/console/login`), login, gatewayOrigin);
  return { jar, page };
}

/**
 * A gateway (buildApp, listening on loopback) signed in through a fresh test IdP: the IdP knows
 * the gateway's redirect URI because the port is chosen first.
 */
export async function startGatewayWithIdp(opts: {
  db: import('../../gateway-server/src/store/db').Db;
  config?: Record<string, unknown>;
  oidc?: Record<string, unknown>;
  idp?: TestIdp;
  /** Listen here (when the IdP was started with this port's redirect URI); default a free port. */
  port?: number;
  /** Public URL when it differs from the listen address (a second replica behind the same URL). */
  publicUrl?: string;
  deps?: Partial<import('../../gateway-server/src/app').AppDeps>;
}): Promise<{ url: string; app: import('fastify').FastifyInstance; idp: TestIdp; close(): Promise<void> }> {
  const { freePort } = await import('./process');
  const { testConfig } = await import('./gateway');
  const { buildApp } = await import('../../gateway-server/src/app');
  const port = opts.port ?? (await freePort());
  const url = opts.publicUrl ?? `http://127.0.0.1:${port}`;
  const ownIdp = !opts.idp;
  const idp = opts.idp ?? (await startTestIdp({ redirectUris: [`${url}/oauth/callback`] }));
  const config = testConfig({
    listen: { host: '127.0.0.1', port, public_url: url },
    oidc: idp.oidcConfig(opts.oidc),
    ...opts.config,
  } as Parameters<typeof testConfig>[0]);
  const app = await buildApp({ ...opts.deps, config, db: opts.db });
  await app.listen({ host: '127.0.0.1', port });
  return {
    url,
    app,
    idp,
    async close() {
      await app.close();
      for (const u of app.gateway.upstreams) await u.close().catch(() => {});
      if (ownIdp) await idp.close();
    },
  };
}
