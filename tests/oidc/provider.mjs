// A real OpenID provider for Atelier's single sign-on tests: oidc-provider (a certified
// implementation) on loopback, with its development sign-in pages (any login name is accepted
// as that account). Not for production.
//
//   node provider.mjs --port P --keys FILE --clients FILE [--rotate]
//
// FILE of keys: a JSON array of private JWKs, the first signs; made (one RS256 key) when
// missing. `--rotate` puts a new key first (the old ones are still published), as an operator
// rotates keys.
// FILE of clients: oidc-provider's client metadata, a JSON array.
// Accounts: every login name is an account; its `groups` claim is the name's parts after '+'
// (`alice+ml+ops` is in groups `ml` and `ops`), and its `preferred_username` the part before.
//
// Besides the provider's own routes, for tests only: POST /test/sign signs the JSON body as
// an ID token with the provider's current key (for expired and wrong-audience tokens).

import http from 'node:http';
import fs from 'node:fs';
import Provider from 'oidc-provider';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';

function argument(name) {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0 || index + 1 >= process.argv.length) {
    throw new Error(`missing --${name}`);
  }
  return process.argv[index + 1];
}

const port = Number(argument('port'));
const issuer = `http://127.0.0.1:${port}`;
const keysFile = argument('keys');
const existing = fs.existsSync(keysFile) ? JSON.parse(fs.readFileSync(keysFile, 'utf8')) : [];
if (existing.length === 0 || process.argv.includes('--rotate')) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = `key-${Date.now()}`;
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  existing.unshift(jwk);
  fs.writeFileSync(keysFile, JSON.stringify(existing), { mode: 0o600 });
}
const keys = existing;
const clients = JSON.parse(fs.readFileSync(argument('clients'), 'utf8'));

function account(login) {
  const [name, ...groups] = login.split('+');
  return {
    accountId: login,
    async claims() {
      return { sub: login, preferred_username: name, email: `${name}@example.test`, groups };
    },
  };
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys },
  findAccount: async (_ctx, id) => account(id),
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
  scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
  pkce: { required: () => true },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  cookies: { keys: ['atelier-test-cookie-key'] },
  ttl: { DeviceCode: 600, IdToken: 300, AccessToken: 300, Grant: 600, Interaction: 600, Session: 600, RefreshToken: 3600 },
});

const signingKey = await importJWK(keys[0], keys[0].alg || 'RS256');

async function testRoute(request, response) {
  let body = '';
  for await (const chunk of request) body += chunk;
  const claims = JSON.parse(body || '{}');
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys[0].alg || 'RS256', kid: keys[0].kid, typ: 'JWT' })
    .sign(signingKey);
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ id_token: token }));
}

const handler = provider.callback();
http
  .createServer((request, response) => {
    if (request.method === 'POST' && request.url === '/test/sign') {
      testRoute(request, response).catch((error) => {
        response.writeHead(400);
        response.end(String(error));
      });
      return;
    }
    handler(request, response);
  })
  .listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
