// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) for the portal's
// sign-in tests. It listens on loopback only and prints its issuer on the first line.
//
// The tests choose who signs in next: POST /test/next-login with JSON
// {"sub", "email", "email_verified", "name", "amr": [...], "acr"}; the interaction then logs
// that account in and grants the scopes asked, with no page to fill in. Everything else
// (discovery, the authorization code flow with PKCE, tokens, userinfo, end session) is the
// provider's own.
import http from 'node:http';
import Provider from 'oidc-provider';

const host = '127.0.0.1';
const port = Number(process.env.OIDC_PORT || 0);
const redirectUris = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);
const postLogoutUris = (process.env.OIDC_POST_LOGOUT_REDIRECT_URIS || '').split(',').filter(Boolean);
const accounts = new Map();
let nextLogin = null;

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { try { resolve(JSON.parse(body || '{}')); } catch (error) { reject(error); } });
  });
}

const server = http.createServer();
server.listen(port, host, () => {
  const issuer = `http://${host}:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.OIDC_CLIENT_ID || 'portal',
      client_secret: process.env.OIDC_CLIENT_SECRET || 'portal-test-secret',
      redirect_uris: redirectUris,
      post_logout_redirect_uris: postLogoutUris,
      token_endpoint_auth_method: 'client_secret_post',
    }],
    claims: {
      // acr and amr always go in the ID token (as Okta and Entra ID put them), not only
      // when the client asks for them with the claims parameter.
      auth_time: null, sid: null, iss: null,
      openid: ['sub', 'acr', 'amr'], email: ['email', 'email_verified'], profile: ['name'],
    },
    acrValues: ['urn:portal:mfa', 'urn:portal:password'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['portal-test-cookie-key'] },
    findAccount: async (ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, email: account.email, email_verified: account.email_verified, name: account.name }) };
    },
  });
  const handle = provider.callback();

  server.on('request', async (req, res) => {
    try {
      if (req.method === 'POST' && req.url === '/test/next-login') {
        nextLogin = await readJson(req);
        accounts.set(nextLogin.sub, nextLogin);
        res.writeHead(204).end();
        return;
      }
      if (req.url.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === 'login') {
          if (!nextLogin) { res.writeHead(400).end('no next login set'); return; }
          result = { login: { accountId: nextLogin.sub, amr: nextLogin.amr, acr: nextLogin.acr } };
        } else {
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          const missing = details.prompt.details;
          if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
          if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
          result = { consent: { grantId: await grant.save() } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
        return;
      }
      handle(req, res);
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  process.stdout.write(`${issuer}\n`);
});
