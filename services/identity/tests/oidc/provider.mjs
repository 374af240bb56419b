// A real OpenID provider (node oidc-provider, OpenID-certified) for identity's SSO tests, on 127.0.0.1 only.
// Started by tests/sso_provider.py with one argument: a JSON file {port, clients: [...]}. It prints "listening <issuer>".
//
// The test drives it without a browser:
// - login: the interaction page finishes at once as the account named by the authorization request's `login_hint`
//   (accounts are registered by POST /test/accounts {email, email_verified}); consent is granted automatically;
// - misbehaviour on purpose: POST /test/tamper {mode} re-writes the ID token of the NEXT token response only:
//   "nonce" (another nonce), "expired" (exp in the past), "audience" (aud of another client), "unknown-kid" (signed
//   by a key the JWKS does not hold), "alg-none" (unsigned). Everything else is the provider's own protocol.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = new Map();
let tamper = null;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: 'provider-key-1', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [signingJwk] },
  scopes: ['openid', 'email', 'profile'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  conformIdTokenClaims: false,  // scope claims (email, email_verified) in the ID token, as most providers do
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['test-provider-cookie-key'] },
  ttl: { IdToken: 3600, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  async findAccount(ctx, id) {
    const account = accounts.get(id);
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: account.sub, email: account.email, email_verified: account.email_verified,
                 name: account.name || account.email };
      },
    };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

async function forged(idToken, mode) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (mode === 'nonce') claims.nonce = 'a-nonce-this-client-never-sent';
  if (mode === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  if (mode === 'audience') { claims.aud = 'another-client'; claims.azp = 'another-client'; }
  if (mode === 'alg-none') {
    const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  }
  if (mode === 'unknown-kid') {
    const other = await jose.generateKeyPair('RS256');
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'a-key-nobody-published' }).sign(other.privateKey);
  }
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: signingJwk.kid }).sign(privateKey);
}

async function readJson(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return raw ? JSON.parse(raw) : {};
}

provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/test/accounts') {
    const body = await readJson(ctx.req);
    accounts.set(body.email, { sub: body.sub || `sub-${body.email}`, email: body.email,
                               email_verified: body.email_verified !== false, name: body.name });
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'POST' && ctx.path === '/test/tamper') {
    tamper = (await readJson(ctx.req)).mode || null;
    ctx.status = 204;
    return;
  }
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (ctx.method === 'GET' && interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const accountId = details.params.login_hint;
    if (details.prompt.name === 'login') {
      if (!accounts.has(accountId)) { ctx.status = 400; ctx.body = 'unknown test account'; return; }
      return provider.interactionFinished(ctx.req, ctx.res, { login: { accountId } }, { mergeWithLastSubmission: false });
    }
    return provider.interactionFinished(ctx.req, ctx.res, {}, { mergeWithLastSubmission: true });
  }
  await next();
  if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
    const mode = tamper;
    tamper = null;
    ctx.body = { ...ctx.body, id_token: await forged(ctx.body.id_token, mode) };
  }
});

const server = provider.listen(config.port, '127.0.0.1', () => console.log(`listening ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
