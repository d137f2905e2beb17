// A real SAML 2.0 identity provider (samlify) for the portal's SAML sign-in tests. It listens
// on loopback only and prints its base URL on the first line; its metadata is at /metadata and
// its single sign-on service (HTTP-Redirect binding) at /sso; /idp-initiated answers unasked.
//
// At each sign-in it reads the portal's own SP metadata (SAML_SP_METADATA_URL), validates the
// portal's AuthnRequest against the SAML schema, and answers with a signed Response (HTTP-POST
// binding: the auto-submitting form a browser would get), its InResponseTo, Destination,
// Audience, Recipient and validity window all set as a production IdP sets them.
//
// The tests choose who signs in next: POST /test/next-login with JSON
// {"name_id", "name_id_format", "attributes": {"<name>": ["<value>", ...]},
//  "authn_context": "<AuthnContextClassRef>", "signer": "idp" | "rogue"}.
// "rogue" signs with a key the portal was never given (SAML_ROGUE_KEY), as a forger would.
import http from 'node:http';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import samlify from 'samlify';
import * as xmllint from '@authenio/samlify-node-xmllint';

samlify.setSchemaValidator(xmllint);

const host = '127.0.0.1';
const port = Number(process.env.SAML_PORT || 0);
const spMetadataUrl = process.env.SAML_SP_METADATA_URL;
const read = (name) => fs.readFileSync(process.env[name], 'utf8');
const PASSWORD = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
let nextLogin = null;

const escapeXml = (value) => String(value)
  .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function attributeStatement(attributes) {
  const entries = Object.entries(attributes || {});
  if (!entries.length) return '';
  const body = entries.map(([name, values]) => (
    `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">`
    + [].concat(values).map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`).join('')
    + '</saml:Attribute>'
  )).join('');
  return `<saml:AttributeStatement>${body}</saml:AttributeStatement>`;
}

// samlify's own Response shape, with an AuthnStatement (its default template leaves it out).
const RESPONSE = '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}"><saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}"><saml:Issuer>{Issuer}</saml:Issuer><saml:Subject><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Destination}" InResponseTo="{InResponseTo}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>{AuthnContextClassRef}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{AttributeStatement}</saml:Assertion></samlp:Response>';

function identityProvider(base, key, cert) {
  return samlify.IdentityProvider({
    entityID: `${base}/metadata`,
    privateKey: key,
    signingCert: cert,
    wantAuthnRequestsSigned: false,
    nameIDFormat: [EMAIL_FORMAT],
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` }],
  });
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { try { resolve(JSON.parse(body || '{}')); } catch (error) { reject(error); } });
  });
}

// SP-initiated (/sso, answering the portal's AuthnRequest) or, when unsolicited, IdP-initiated
// (/idp-initiated: no request, no InResponseTo).
async function signIn(idps, res, url, unsolicited) {
  if (!nextLogin) { res.writeHead(400).end('no next login set'); return; }
  const spMetadata = await (await fetch(spMetadataUrl)).text();
  const sp = samlify.ServiceProvider({ metadata: spMetadata });
  const query = Object.fromEntries(url.searchParams);
  const request = unsolicited
    ? { extract: { request: { id: '' } } }
    : await idps.idp.parseLoginRequest(sp, 'redirect', { query, octetString: url.search.slice(1) });
  const signer = idps[nextLogin.signer || 'idp'];
  const now = new Date();
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const acs = sp.entityMeta.getAssertionConsumerService(samlify.Constants.wording.binding.post);
  const values = {
    ID: `_${randomUUID()}`,
    AssertionID: `_${randomUUID()}`,
    SessionIndex: `_${randomUUID()}`,
    IssueInstant: now.toISOString(),
    NotBefore: now.toISOString(),
    NotOnOrAfter: later.toISOString(),
    Destination: acs,
    InResponseTo: request.extract.request.id,
    Issuer: idps.idp.entityMeta.getEntityID(),
    Audience: sp.entityMeta.getEntityID(),
    NameIDFormat: nextLogin.name_id_format || EMAIL_FORMAT,
    NameID: nextLogin.name_id,
    AuthnContextClassRef: nextLogin.authn_context || PASSWORD,
  };
  const xml = RESPONSE
    .replace(/\{(\w+)\}/g, (match, tag) => (tag === 'AttributeStatement' ? match : escapeXml(values[tag])))
    .replace('{AttributeStatement}', attributeStatement(nextLogin.attributes))
    .replace(/ InResponseTo=""/g, '');
  const response = await signer.createLoginResponse(sp, request, 'post', {}, {
    relayState: query.RelayState || '',
    customTagReplacement: () => ({ id: values.ID, context: xml }),
  });
  const page = '<!doctype html><html><body onload="document.forms[0].submit()">'
    + `<form method="post" action="${escapeXml(response.entityEndpoint)}">`
    + `<input type="hidden" name="SAMLResponse" value="${escapeXml(response.context)}">`
    + `<input type="hidden" name="RelayState" value="${escapeXml(response.relayState || '')}">`
    + '<button type="submit">Continue</button></form></body></html>';
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page);
}

const server = http.createServer();
server.listen(port, host, () => {
  const base = `http://${host}:${server.address().port}`;
  const idps = {
    idp: identityProvider(base, read('SAML_IDP_KEY'), read('SAML_IDP_CERT')),
    rogue: identityProvider(base, read('SAML_ROGUE_KEY'), read('SAML_ROGUE_CERT')),
  };
  server.on('request', async (req, res) => {
    const url = new URL(req.url, base);
    try {
      if (req.method === 'POST' && url.pathname === '/test/next-login') {
        nextLogin = await readJson(req);
        res.writeHead(204).end();
      } else if (req.method === 'GET' && url.pathname === '/metadata') {
        res.writeHead(200, { 'Content-Type': 'application/samlmetadata+xml' }).end(idps.idp.getMetadata());
      } else if (req.method === 'GET' && url.pathname === '/sso') {
        await signIn(idps, res, url, false);
      } else if (req.method === 'GET' && url.pathname === '/idp-initiated') {
        await signIn(idps, res, url, true);
      } else {
        res.writeHead(404).end('not found');
      }
    } catch (error) {
      res.writeHead(500).end(String(error && error.stack ? error.stack : error));
    }
  });
  process.stdout.write(`${base}\n`);
});
