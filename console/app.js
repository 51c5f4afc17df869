// @ts-check
/**
 * The forceflow web console (docs/console.md): sign in with Salesforce (authorization code + PKCE), exchange the
 * id_token at the service's POST /oauth2/token for the service's own token, then call the AppFlow API with
 * `Authorization: Bearer`. No framework and no build: one ES module, type-checked by `tsc -p tsconfig.console.json`.
 *
 * The session (the service's token, and the Salesforce access token kept only to revoke it at sign-out) lives in
 * sessionStorage: it survives a reload and the redirect through the login page, belongs to this tab only, and is
 * gone when the tab closes. It is never put in localStorage (shared by every tab, kept on disk) nor in a cookie
 * (sent with every request, so a cross-site form could use it).
 */

const SESSION_KEY = 'forceflow.console.session';
const PENDING_KEY = 'forceflow.console.pending';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
/** Poll interval of a page showing a run in progress. */
const POLL_MS = 1000;
const RUNNING = new Set(['InProgress', 'CancelStarted']);

/** @typedef {{ signIn: { loginHosts: string[], clientId: string } | null }} ConsoleConfig */
/**
 * @typedef {object} Session
 * @property {string} accessToken the service's token
 * @property {number} expiresAt epoch ms
 * @property {string[]} scopes
 * @property {string} [refreshToken] the service's refresh token, when it issues one
 * @property {{ loginHost: string, accessToken: string }} [salesforce] kept only to revoke it at sign-out
 */
/** @typedef {{ verifier: string, state: string, nonce: string, loginHost: string, returnTo: string }} Pending */
/** @typedef {Record<string, any>} Json */

/** @type {ConsoleConfig} */
let config = { signIn: null };
/** @type {ReturnType<typeof setTimeout> | undefined} */
let pollTimer;
/** Bumped at every render: a slow answer for a page left behind is dropped. */
let renderId = 0;

class ApiError extends Error {
  /** @param {number} status @param {string} type @param {string} message */
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// ---------------------------------------------------------------- DOM helpers

/**
 * An element with attributes and children (text is always a text node: nothing the API returns is parsed as HTML).
 * @param {string} tag
 * @param {Record<string, string | boolean | ((e: Event) => void) | undefined>} [attrs]
 * @param {Array<Node | string | null | undefined | false>} children
 * @returns {HTMLElement}
 */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

/** @param {string} text @param {boolean} [isError] */
function say(text, isError = false) {
  const s = byId('status');
  s.replaceChildren(text === '' ? '' : h('p', { class: isError ? 'error' : 'hint' }, text));
}

/** @param {string} status */
function badge(status) {
  return h('span', { class: `badge s-${status}` }, status);
}

/** @param {number | undefined | null} epochSeconds */
function time(epochSeconds) {
  if (epochSeconds === undefined || epochSeconds === null) return '—';
  const d = new Date(epochSeconds * 1000);
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

/** A count with the reader's digit grouping (1,234,567). @param {number | undefined | null} n */
function count(n) {
  return n === undefined || n === null ? '—' : Number(n).toLocaleString();
}

/** A byte size in binary units; the exact count in the tooltip. @param {number | undefined | null} n @returns {Node | string} */
function bytes(n) {
  if (n === undefined || n === null) return '—';
  if (n < 1024) return `${n} B`;
  return h('span', { title: `${count(n)} bytes` }, binary(n));
}

/** @param {number} n */
function binary(n) {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A table in a region that scrolls sideways on a narrow screen (focusable, so the keyboard can scroll it too).
 * @param {string} id @param {string} label @param {Array<[string, boolean?]>} columns [title, numeric] @param {HTMLElement} body */
function table(id, label, columns, body) {
  const head = h('thead', {}, h('tr', {}, ...columns.map(([t, numeric]) => h('th', { scope: 'col', class: numeric ? 'num' : undefined }, t))));
  return h('div', { class: 'scroll', role: 'region', 'aria-label': label, tabindex: '0' }, h('table', { id }, head, body));
}

/** The page's title: the browser's tab, its history and a screen reader name the page. @param {string} [what] */
function title(what) {
  document.title = what ? `${what} · forceflow` : 'forceflow console';
}

/** @param {string} name */
const flowHref = (name) => `#/flows/${encodeURIComponent(name)}`;

// ---------------------------------------------------------------- session

/** @returns {Session | undefined} */
function loadSession() {
  const raw = sessionStorage.getItem(SESSION_KEY);
  if (raw === null) return undefined;
  try {
    return /** @type {Session} */ (JSON.parse(raw));
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
    return undefined;
  }
}

/** @param {Session | undefined} s */
function saveSession(s) {
  if (s === undefined) sessionStorage.removeItem(SESSION_KEY);
  else sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

/** @param {Session} s @returns {'admin' | 'operator' | 'viewer'} */
function roleOf(s) {
  if (s.scopes.includes('flows:admin')) return 'admin';
  if (s.scopes.includes('flows:run')) return 'operator';
  return 'viewer';
}

/** @param {Session} s */
const canRun = (s) => s.scopes.includes('flows:run');

/** @param {number} n */
function randomString(n) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** @param {Uint8Array} data */
function base64url(data) {
  let s = '';
  for (const b of data) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {Record<string, string>} fields */
function form(fields) {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() };
}

const redirectUri = () => `${location.origin}/`;

/** Step 1: to the Salesforce login page, with a PKCE challenge, state and nonce kept in this tab. @param {string} loginHost */
async function startSignIn(loginHost) {
  if (!config.signIn) return;
  const verifier = randomString(48);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  /** @type {Pending} */
  const pending = { verifier, state: randomString(24), nonce: randomString(24), loginHost, returnTo: location.hash || '#/flows' };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.signIn.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  });
  location.assign(`${loginHost}/services/oauth2/authorize?${query.toString()}`);
}

/**
 * Step 2, back from Salesforce with ?code=…&state=…: the code for Salesforce's tokens (PKCE, no secret), then the
 * id_token for the service's token. The code leaves the address bar first.
 * @param {URLSearchParams} params
 */
async function completeSignIn(params) {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  /** @type {Pending | undefined} */
  const pending = raw === null ? undefined : JSON.parse(raw);
  history.replaceState(null, '', `/${pending?.returnTo ?? '#/flows'}`);
  if (params.has('error')) throw new Error(`Salesforce did not sign you in: ${params.get('error_description') ?? params.get('error')}.`);
  if (!pending || !config.signIn || params.get('state') !== pending.state) throw new Error('This sign-in answer does not belong to a sign-in started in this tab. Sign in again.');
  const code = params.get('code') ?? '';
  const sfRes = await fetch(`${pending.loginHost}/services/oauth2/token`, form({ grant_type: 'authorization_code', code, client_id: config.signIn.clientId, redirect_uri: redirectUri(), code_verifier: pending.verifier }));
  const sf = /** @type {Json} */ (await sfRes.json().catch(() => ({})));
  if (!sfRes.ok || typeof sf['id_token'] !== 'string') throw new Error(`Salesforce refused the sign-in code (${sf['error_description'] ?? sf['error'] ?? sfRes.status}). Check that the connected app issues id tokens (scope openid).`);
  // offline_access: a refresh token, so the sign-in outlives the id_token's 2 minutes (the role's scopes stay all granted).
  const res = await fetch('/oauth2/token', form({ grant_type: TOKEN_EXCHANGE, subject_token: sf['id_token'], subject_token_type: ID_TOKEN_TYPE, nonce: pending.nonce, scope: 'offline_access' }));
  const ours = /** @type {Json} */ (await res.json().catch(() => ({})));
  if (!res.ok || typeof ours['access_token'] !== 'string') {
    // The Salesforce token is of no use now.
    await revokeSalesforce({ loginHost: pending.loginHost, accessToken: String(sf['access_token'] ?? '') });
    throw new Error(res.status === 400 ? 'The service refused your Salesforce sign-in: your user or organisation may not be allowed (ask an admin: forceflow users …), or you signed in too often. Try again in a minute.' : `The service could not sign you in (${ours['error'] ?? res.status}).`);
  }
  saveSession(sessionFrom(ours, { loginHost: pending.loginHost, accessToken: String(sf['access_token'] ?? '') }));
}

/** @param {Json} answer @param {Session['salesforce']} [salesforce] @returns {Session} */
function sessionFrom(answer, salesforce) {
  return {
    accessToken: answer['access_token'],
    expiresAt: Date.now() + Number(answer['expires_in'] ?? 60) * 1000,
    scopes: String(answer['scope'] ?? '').split(' ').filter((s) => s !== ''),
    ...(typeof answer['refresh_token'] === 'string' ? { refreshToken: answer['refresh_token'] } : {}),
    ...(salesforce ? { salesforce } : {}),
  };
}

/** @type {Promise<Session | undefined> | undefined} */
let refreshing;

/**
 * The session, refreshed when it is about to expire and the service gave a refresh token; undefined when over.
 * One refresh at a time: refresh tokens are one-time, and a second use of one ends the whole sign-in.
 */
async function liveSession() {
  const s = loadSession();
  if (!s) return undefined;
  if (s.expiresAt - Date.now() > 20_000) return s;
  if (s.refreshToken) {
    refreshing ??= refresh(s).finally(() => (refreshing = undefined));
    const next = await refreshing;
    if (next) return next;
  }
  if (s.expiresAt > Date.now() && !s.refreshToken) return s;
  await expire();
  return undefined;
}

/** @param {Session} s @returns {Promise<Session | undefined>} */
async function refresh(s) {
  const res = await fetch('/oauth2/token', form({ grant_type: 'refresh_token', refresh_token: s.refreshToken ?? '' }));
  if (!res.ok) return undefined;
  const next = { ...sessionFrom(await res.json()), ...(s.salesforce ? { salesforce: s.salesforce } : {}) };
  if (!next.refreshToken && s.refreshToken) next.refreshToken = s.refreshToken;
  saveSession(next);
  return next;
}

/** The session ended on its own (expired, refused): revoke what is left and say so. */
async function expire() {
  const s = loadSession();
  saveSession(undefined);
  if (s?.salesforce) await revokeSalesforce(s.salesforce);
  say('Your session ended. Sign in again.');
}

/** @param {{ loginHost: string, accessToken: string }} sf @returns {Promise<boolean>} */
async function revokeSalesforce(sf) {
  if (sf.accessToken === '') return false;
  try {
    return (await fetch(`${sf.loginHost}/services/oauth2/revoke`, form({ token: sf.accessToken }))).ok;
  } catch {
    return false;
  }
}

/** RFC 7009 at the service (a 404 from an older service: no revocation there; the token just expires). @param {string} token @param {string} hint */
async function revokeAtService(token, hint) {
  try {
    return (await fetch('/oauth2/revoke', form({ token, token_type_hint: hint }))).ok;
  } catch {
    return false;
  }
}

async function signOut() {
  const s = loadSession();
  saveSession(undefined);
  stopPolling();
  if (!s) return render();
  const [refresh, access, salesforce] = await Promise.all([
    s.refreshToken ? revokeAtService(s.refreshToken, 'refresh_token') : Promise.resolve(true),
    revokeAtService(s.accessToken, 'access_token'),
    s.salesforce ? revokeSalesforce(s.salesforce) : Promise.resolve(true),
  ]);
  const service = refresh && access;
  const left = Math.max(0, Math.round((s.expiresAt - Date.now()) / 1000));
  history.replaceState(null, '', '/#/flows');
  say(`Signed out. ${salesforce ? 'Your Salesforce token was revoked.' : 'Salesforce did not confirm the revocation of your token.'} ${service ? 'The service revoked its token.' : `The service's token was dropped here; it expires by itself within ${left} s.`}`);
  await render();
}

// ---------------------------------------------------------------- API

/**
 * One AppFlow API call with the service's token. A refused token ends the session.
 * @param {string} path @param {Json} [body] @returns {Promise<Json>}
 */
async function api(path, body = {}) {
  const s = await liveSession();
  if (!s) {
    void render();
    throw new ApiError(401, 'SignedOut', 'You are signed out.');
  }
  /** @type {Response} */
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${s.accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch {
    // fetch rejects only when no answer came at all (the service stopped, the network is down).
    throw new ApiError(0, 'NetworkError', 'The service could not be reached. Check that it is running, then reload the page.');
  }
  const text = await res.text();
  const json = text === '' ? {} : JSON.parse(text);
  if (res.ok) return json;
  const type = res.headers.get('x-amzn-errortype') ?? 'Error';
  if (type === 'UnrecognizedClientException' || type === 'MissingAuthenticationTokenException') {
    await expire();
    render();
  }
  throw new ApiError(res.status, type, String(json['message'] ?? res.statusText));
}

/** Every flow (ListFlows, all pages). @returns {Promise<Json[]>} */
async function listFlows() {
  /** @type {Json[]} */
  const flows = [];
  let nextToken;
  do {
    const page = await api('/list-flows', { maxResults: 100, ...(nextToken ? { nextToken } : {}) });
    flows.push(...(page['flows'] ?? []));
    nextToken = page['nextToken'];
  } while (nextToken);
  return flows;
}

/** @param {unknown} type */
function triggerLabel(type) {
  return type === 'Event' ? 'On event' : type === 'Scheduled' ? 'Scheduled' : 'On demand';
}

/** @param {Json} flow */
function scheduleOf(flow) {
  const t = flow['triggerConfig'] ?? {};
  if (t['triggerType'] !== 'Scheduled') return triggerLabel(t['triggerType']);
  const s = t['triggerProperties']?.['Scheduled'] ?? {};
  return `${s['scheduleExpression'] ?? 'Scheduled'}${s['timezone'] ? ` (${s['timezone']})` : ''}`;
}

// ---------------------------------------------------------------- pages

function stopPolling() {
  if (pollTimer !== undefined) clearTimeout(pollTimer);
  pollTimer = undefined;
}

/** @param {() => Promise<void>} fn @param {number} id */
function pollAgain(fn, id) {
  stopPolling();
  pollTimer = setTimeout(() => {
    if (id === renderId) void fn().catch(showError);
  }, POLL_MS);
}

/** What an AppFlow error type means, for a person. */
const ERROR_TITLES = /** @type {Record<string, string>} */ ({
  AccessDeniedException: 'Not allowed',
  ResourceNotFoundException: 'Not found',
  ConflictException: 'Not now',
  ValidationException: 'Invalid request',
  ThrottlingException: 'Too many requests, try again shortly',
  UnsupportedOperationException: 'Not supported',
  InternalServerException: 'The service failed',
  ServiceUnavailableException: 'The service is unavailable',
  NetworkError: 'No answer',
});

/** @param {unknown} error */
function showError(error) {
  if (error instanceof ApiError && error.type === 'SignedOut') return;
  if (error instanceof ApiError) return say(`${ERROR_TITLES[error.type] ?? error.type}: ${error.message}`, true);
  say(String(/** @type {Error} */ (error).message ?? error), true);
}

/**
 * Replace the page's content. A new page takes the focus (so the keyboard starts at its content); a refresh of
 * the same page (polling) gives it back to the button or link that had it.
 * @param {HTMLElement} content @param {boolean} [focus]
 */
function show(content, focus = true) {
  const main = byId('main');
  const active = document.activeElement;
  const selector = !focus && active instanceof HTMLElement && main.contains(active) ? (active.id ? `#${CSS.escape(active.id)}` : active.getAttribute('href') ? `a[href="${CSS.escape(active.getAttribute('href') ?? '')}"]` : undefined) : undefined;
  main.replaceChildren(content);
  if (focus) main.focus();
  else if (selector) /** @type {HTMLElement | null} */ (main.querySelector(selector))?.focus();
}

function renderWho() {
  const who = byId('who');
  const sections = byId('sections');
  const s = loadSession();
  if (!s) {
    sections.replaceChildren();
    return who.replaceChildren();
  }
  const here = location.hash.startsWith('#/connections') ? 'connections' : 'flows';
  sections.replaceChildren(
    h('a', { href: '#/flows', 'aria-current': here === 'flows' ? 'page' : undefined }, 'Flows'),
    h('a', { href: '#/connections', id: 'nav-connections', 'aria-current': here === 'connections' ? 'page' : undefined }, 'Connections'),
  );
  who.replaceChildren(h('span', { id: 'role' }, `Role: ${roleOf(s)}`), h('button', { class: 'secondary', id: 'signout', type: 'button', onclick: () => void signOut() }, 'Sign out'));
}

function signInPage() {
  const si = config.signIn;
  if (!si) {
    return h('section', { class: 'signin' }, h('h1', {}, 'Sign-in is not configured'), h('p', {}, 'This service has no "signIn" section in its service.json, so the console cannot sign anyone in. See docs/console.md.'));
  }
  /** @type {HTMLSelectElement | undefined} */
  let select;
  if (si.loginHosts.length > 1) {
    select = /** @type {HTMLSelectElement} */ (h('select', { id: 'login-host' }, ...si.loginHosts.map((host) => h('option', { value: host }, host))));
  }
  return h(
    'section',
    { class: 'signin' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Sign in with your Salesforce user. The service maps it to a role: viewers see flows and runs, operators also start, stop and cancel runs.'),
    select ? h('p', {}, h('label', { for: 'login-host' }, 'Salesforce login: '), select) : null,
    h('button', { id: 'signin', type: 'button', onclick: () => void startSignIn(select ? select.value : si.loginHosts[0] ?? '').catch(showError) }, 'Sign in with Salesforce'),
  );
}

/** #/flows @param {number} id @param {Session} session @param {boolean} [focus] */
async function flowsPage(id, session, focus = true) {
  const flows = await listFlows();
  // Schedule and next run: DescribeFlow for Scheduled flows, and DescribeFlowRuns (forceflow's) for the active ones.
  const extra = await Promise.all(
    flows.map(async (f) => {
      if (f['triggerType'] !== 'Scheduled') return { schedule: triggerLabel(f['triggerType']), next: undefined };
      const [def, runs] = await Promise.all([api('/describe-flow', { flowName: f['flowName'] }), f['flowStatus'] === 'Active' ? api('/forceflow/describe-flow-runs', { flowName: f['flowName'], maxResults: 1 }) : Promise.resolve(/** @type {Json} */ ({}))]);
      return { schedule: scheduleOf(def), next: runs['nextRunAt'] };
    }),
  );
  if (id !== renderId) return;
  const rows = flows.map((f, i) => {
    const last = f['lastRunExecutionDetails'];
    return h(
      'tr',
      { 'data-flow': f['flowName'] },
      h('td', {}, h('a', { href: flowHref(f['flowName']) }, f['flowName'])),
      h('td', {}, badge(f['flowStatus'])),
      h('td', {}, extra[i]?.schedule ?? ''),
      h('td', {}, last ? h('span', {}, badge(last['mostRecentExecutionStatus']), ' ', time(last['mostRecentExecutionTime'])) : '—'),
      h('td', {}, time(extra[i]?.next)),
      h('td', {}, `${f['sourceConnectorType'] ?? ''} → ${f['destinationConnectorType'] ?? ''}`),
    );
  });
  show(
    h(
      'section',
      {},
      h('h1', {}, 'Flows'),
      flows.length === 0
        ? h('p', { id: 'no-flows' }, 'No flows yet. An admin creates them through the API (CreateFlow, with the AWS CLI or an SDK pointed at this service).')
        : table('flows', 'Flows', [['Flow'], ['Status'], ['Schedule'], ['Last run'], ['Next run'], ['Source → destination']], h('tbody', {}, ...rows)),
    ),
    focus,
  );
  if (flows.some((f) => RUNNING.has(f['lastRunExecutionDetails']?.['mostRecentExecutionStatus']))) pollAgain(() => flowsPage(id, session, false), id);
}

/** @param {Json} r */
function apiCell(r) {
  /** @param {string | null} api @param {string | null} why */
  const one = (api, why) => (api ? h('span', { title: why ?? '' }, api) : null);
  const src = one(r['sourceDataTransferApi'], r['sourceDataTransferApiReason']);
  const dst = one(r['destinationDataTransferApi'], r['destinationDataTransferApiReason']);
  if (!src && !dst) return '—';
  return h('span', {}, src ? h('span', {}, 'read: ', src) : null, src && dst ? ' · ' : null, dst ? h('span', {}, 'write: ', dst) : null);
}

/** @param {Json} r */
function errorsCell(r) {
  const info = r['executionResult']?.['errorInfo'];
  if (!info && !r['errorFile']) return '—';
  return h('span', {}, info?.['putFailuresCount'] ? `${count(info['putFailuresCount'])} failed records. ` : '', info?.['executionMessage'] ?? '', r['errorFile'] ? h('span', {}, ' Error file: ', h('code', {}, r['errorFile'])) : null);
}

/**
 * The flow's header and its actions (start, stop, cancel), each refused by the server too; shown disabled, with
 * the reason, to a viewer.
 * @param {Json} flow @param {Json[]} runs @param {Session} session @param {() => void} refresh
 */
function flowActions(flow, runs, session, refresh) {
  const allowed = canRun(session);
  const why = allowed ? undefined : `Your role (${roleOf(session)}) may not start, stop or cancel runs.`;
  const scheduled = flow['triggerConfig']?.['triggerType'] === 'Scheduled';
  const running = runs.find((r) => RUNNING.has(r['executionStatus']));
  /** @param {string} label @param {string} idAttr @param {() => Promise<void>} action @param {boolean} [enabled] */
  const button = (label, idAttr, action, enabled = true) =>
    h('button', { id: idAttr, type: 'button', disabled: !allowed || !enabled, title: why, onclick: () => void action().then(refresh, showError) }, label);
  const name = flow['flowName'];
  return h(
    'div',
    { class: 'actions' },
    button(scheduled ? 'Activate schedule' : 'Start run', 'start', async () => {
      const out = await api('/start-flow', { flowName: name });
      say(out['executionId'] ? `Run ${out['executionId']} started.` : `Flow ${name} is ${out['flowStatus']}.`);
      if (out['executionId']) location.hash = `${flowHref(name)}/runs/${encodeURIComponent(out['executionId'])}`;
    }, !(scheduled && flow['flowStatus'] === 'Active') && !running),
    scheduled ? button('Stop schedule', 'stop', async () => {
      const out = await api('/stop-flow', { flowName: name });
      say(`Flow ${name} is ${out['flowStatus']}.`);
    }, flow['flowStatus'] === 'Active') : null,
    button('Cancel run', 'cancel', async () => {
      await api('/cancel-flow-executions', { flowName: name, ...(running ? { executionIds: [running['executionId']] } : {}) });
      say('Cancel requested.');
    }, running !== undefined && running['executionStatus'] === 'InProgress'),
    why ? h('span', { class: 'hint', id: 'role-hint' }, why) : null,
  );
}

/** @param {string} name @param {'runs' | 'definition'} current */
function tabs(name, current) {
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Flow' },
    h('a', { href: flowHref(name), 'aria-current': current === 'runs' ? 'page' : undefined }, 'Runs'),
    h('a', { href: `${flowHref(name)}/definition`, 'aria-current': current === 'definition' ? 'page' : undefined }, 'Definition'),
  );
}

/** #/flows/<name> @param {number} id @param {Session} session @param {string} name @param {boolean} focus */
async function flowPage(id, session, name, focus = true) {
  const [flow, page] = await Promise.all([api('/describe-flow', { flowName: name }), api('/forceflow/describe-flow-runs', { flowName: name, maxResults: 20 })]);
  if (id !== renderId) return;
  /** @type {Json[]} */
  const runs = page['runs'] ?? [];
  const body = h('tbody', {});
  /** @param {Json[]} list */
  const addRows = (list) =>
    body.append(
      ...list.map((r) =>
        h(
          'tr',
          { 'data-run': r['executionId'] },
          h('td', {}, h('a', { href: `${flowHref(name)}/runs/${encodeURIComponent(r['executionId'])}` }, time(r['startedAt']))),
          h('td', {}, badge(r['executionStatus'])),
          h('td', { class: 'num' }, count(r['executionResult']?.['recordsProcessed'] ?? 0)),
          h('td', { class: 'num' }, bytes(r['executionResult']?.['bytesProcessed'])),
          h('td', {}, apiCell(r)),
          h('td', {}, errorsCell(r)),
        ),
      ),
    );
  addRows(runs);
  let nextToken = page['nextToken'];
  const more = h('button', { class: 'secondary', type: 'button', id: 'more', hidden: !nextToken, onclick: () => void loadMore().catch(showError) }, 'Older runs');
  async function loadMore() {
    const older = await api('/forceflow/describe-flow-runs', { flowName: name, maxResults: 20, nextToken });
    addRows(older['runs'] ?? []);
    nextToken = older['nextToken'];
    more.hidden = !nextToken;
  }
  const refresh = () => void flowPage(id, session, name, false).catch(showError);
  show(
    h(
      'section',
      {},
      h('p', {}, h('a', { href: '#/flows' }, '← Flows')),
      h('h1', {}, name, ' ', badge(flow['flowStatus'])),
      flow['flowStatusMessage'] ? h('p', { class: 'hint' }, flow['flowStatusMessage']) : null,
      h('dl', { class: 'facts' }, h('dt', {}, 'Schedule'), h('dd', {}, scheduleOf(flow)), h('dt', {}, 'Next run'), h('dd', {}, time(page['nextRunAt'])), h('dt', {}, 'Description'), h('dd', {}, flow['description'] ?? '—')),
      flowActions(flow, runs, session, refresh),
      tabs(name, 'runs'),
      runs.length === 0
        ? h('p', {}, 'No runs yet.')
        : table('runs', `Runs of ${name}`, [['Started'], ['Status'], ['Records', true], ['Bytes', true], ['API used'], ['Errors']], body),
      more,
    ),
    focus,
  );
  if (runs.some((r) => RUNNING.has(r['executionStatus']))) pollAgain(() => flowPage(id, session, name, false), id);
}

/** #/flows/<name>/definition @param {number} id @param {string} name */
async function definitionPage(id, name) {
  const flow = await api('/describe-flow', { flowName: name });
  if (id !== renderId) return;
  const { lastRunExecutionDetails: _l, ...definition } = flow;
  /** @param {unknown} arn */
  const who = (arn) => (typeof arn === 'string' && arn !== '' ? ` by ${arn.split(/[:/]/).at(-1)}` : '');
  show(
    h(
      'section',
      {},
      h('p', {}, h('a', { href: '#/flows' }, '← Flows')),
      h('h1', {}, name, ' ', badge(flow['flowStatus'])),
      tabs(name, 'definition'),
      h('p', { class: 'hint' }, 'Created ', time(flow['createdAt']), who(flow['createdBy']), '; last updated ', time(flow['lastUpdatedAt']), who(flow['lastUpdatedBy']), '. As DescribeFlow answers it:'),
      h('pre', { id: 'definition', tabindex: '0', 'aria-label': `Definition of ${name} (JSON)` }, JSON.stringify(definition, null, 2)),
    ),
  );
}

/** #/flows/<name>/runs/<id>: one run, its live progress while it goes on. @param {number} id @param {Session} session @param {string} name @param {string} executionId @param {boolean} focus */
async function runPage(id, session, name, executionId, focus = true) {
  // The run is on the first pages unless very old: look through at most 5 pages of 100.
  /** @type {Json | undefined} */
  let run;
  /** @type {Json} */
  let page = {};
  let nextToken;
  for (let i = 0; i < 5 && !run; i++) {
    page = await api('/forceflow/describe-flow-runs', { flowName: name, maxResults: 100, ...(nextToken ? { nextToken } : {}) });
    run = (page['runs'] ?? []).find((/** @type {Json} */ r) => r['executionId'] === executionId);
    nextToken = page['nextToken'];
    if (!nextToken) break;
  }
  if (id !== renderId) return;
  if (!run) {
    show(h('section', {}, h('p', {}, h('a', { href: flowHref(name) }, `← ${name}`)), h('h1', {}, 'Run not found'), h('p', {}, `No run ${executionId} of flow ${name}.`)), focus);
    return;
  }
  const r = run;
  const res = r['executionResult'] ?? {};
  const live = RUNNING.has(r['executionStatus']);
  const flow = { flowName: name, flowStatus: page['flowStatus'], triggerConfig: {} };
  /** @type {Array<[string, Node | string]>} */
  const facts = [
    ['Status', badge(r['executionStatus'])],
    ['Started', time(r['startedAt'])],
    ['Last updated', time(r['lastUpdatedAt'])],
    ['Started by', String(r['startedBy'] ?? '')],
    ['Records processed', h('span', { id: 'records' }, count(res['recordsProcessed'] ?? 0))],
    ['Bytes processed', h('span', { id: 'bytes' }, bytes(res['bytesProcessed']))],
    ['Records written', count(r['recordsWritten'] ?? 0)],
    ['Filtered / dropped', `${count(r['recordsFiltered'] ?? 0)} / ${count(r['recordsDropped'] ?? 0)}`],
    ['Bytes written', bytes(res['bytesWritten'])],
    ['Window', r['dataPullStartTime'] || r['dataPullEndTime'] ? h('span', {}, time(r['dataPullStartTime']), ' → ', time(r['dataPullEndTime'])) : 'full transfer'],
    ['Read with', r['sourceDataTransferApi'] ? `${r['sourceDataTransferApi']}: ${r['sourceDataTransferApiReason'] ?? ''}` : '—'],
    ['Written with', r['destinationDataTransferApi'] ? `${r['destinationDataTransferApi']}: ${r['destinationDataTransferApiReason'] ?? ''}` : '—'],
    ['Failed records', count(res['errorInfo']?.['putFailuresCount'] ?? 0)],
    ['Error', r['error'] ? `${r['error']['code']}: ${r['error']['message']}` : res['errorInfo']?.['executionMessage'] ?? '—'],
    ['Error file', r['errorFile'] ? h('code', {}, r['errorFile']) : '—'],
    ['Outputs', (r['outputs'] ?? []).length === 0 ? '—' : h('ul', {}, ...(r['outputs'] ?? []).map((/** @type {string} */ o) => h('li', {}, h('code', {}, o))))],
  ];
  if ((r['notes'] ?? []).length > 0) facts.push(['Notes', h('ul', {}, ...r['notes'].map((/** @type {string} */ n) => h('li', {}, n)))]);
  const refresh = () => void runPage(id, session, name, executionId, false).catch(showError);
  show(
    h(
      'section',
      {},
      h('p', {}, h('a', { href: flowHref(name) }, `← ${name}`)),
      h('h1', { class: 'run-id' }, `Run ${executionId}`),
      live ? h('p', { id: 'live' }, h('progress', { 'aria-label': 'Run in progress' }), ' In progress: the counts update every second.') : null,
      // Cancel where it is seen at once, above the facts (a long list on a phone).
      live ? flowActions(flow, [r], session, refresh) : null,
      h('dl', { class: 'facts', id: 'run' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    ),
    focus,
  );
  if (live) pollAgain(() => runPage(id, session, name, executionId, false), id);
}

/** Every Salesforce connector profile (DescribeConnectorProfiles, all pages). @returns {Promise<Json[]>} */
async function listProfiles() {
  /** @type {Json[]} */
  const profiles = [];
  let nextToken;
  do {
    const page = await api('/describe-connector-profiles', { connectorType: 'Salesforce', maxResults: 100, ...(nextToken ? { nextToken } : {}) });
    profiles.push(...(page['connectorProfileDetails'] ?? []));
    nextToken = page['nextToken'];
  } while (nextToken);
  return profiles;
}

/** "remaining of max" for one daily limit, the exact figures on hover. @param {Json | undefined} l @param {string} what */
function limitCell(l, what) {
  if (!l) return '—';
  return h('span', { title: `${count(l['remaining'])} ${what} left of ${count(l['max'])} (rolling 24 hours)` }, `${count(l['remaining'])} / ${count(l['max'])}`);
}

/** The profile's reserve as set, and what it keeps of each limit. @param {Json} budget */
function reserveCell(budget) {
  const setting = budget['apiReserve'];
  if (setting === null || setting === undefined) return h('span', { title: 'No reserve: runs are not checked against this org\'s limits (a service-wide apiReserve may still apply).' }, 'none');
  const l = budget['limits'] ?? {};
  const parts = [['requests', l['DailyApiRequests']], ['query jobs', l['DailyBulkV2QueryJobs']], ['batches', l['DailyBulkApiBatches']]]
    .filter(([, v]) => v && v['reserve'])
    .map(([k, v]) => `${count(v['reserve'])} ${k}`);
  return h('span', {}, String(setting), parts.length > 0 ? h('span', { class: 'hint' }, ` (${parts.join(', ')})`) : null);
}

/**
 * #/connections: the Salesforce connector profiles with each org's API budget now. One /limits call per profile,
 * made when the page opens or on Refresh (never polled: each call counts against the org's API requests). A profile
 * whose org does not answer shows its error in its row.
 * @param {number} id @param {boolean} [focus]
 */
async function connectionsPage(id, focus = true) {
  const profiles = await listProfiles();
  if (id !== renderId) return;
  const COLUMNS = 6;
  const rows = profiles.map((p) => {
    const name = String(p['connectorProfileName']);
    const sf = p['connectorProfileProperties']?.['Salesforce'] ?? {};
    const row = h('tr', { 'data-profile': name }, h('th', { scope: 'row' }, name), h('td', {}, sf['instanceUrl'] ? h('code', {}, sf['instanceUrl']) : '—'), h('td', { colspan: String(COLUMNS - 2), class: 'hint' }, 'Reading the org\u2019s limits…'));
    return { name, row };
  });
  show(
    h(
      'section',
      {},
      h('h1', {}, 'Connections'),
      h('p', { class: 'hint', id: 'budget-note' }, 'Each Salesforce org\u2019s daily API budget, read once when this page opens (one /limits call per connector profile, which counts as one API request of that org). It is not refreshed by itself: ', h('button', { class: 'secondary', type: 'button', id: 'refresh', onclick: () => void connectionsPage(++renderId, false).catch(showError) }, 'Refresh'), ' reads it again. Remaining / maximum over the rolling 24 hours; runs leave the reserve to the org\u2019s other integrations (docs/salesforce-budget.md).'),
      profiles.length === 0
        ? h('p', { id: 'no-profiles' }, 'No Salesforce connector profiles yet. An admin creates them through the API (CreateConnectorProfile) or with forceflow profiles create.')
        : table('budgets', 'Connections and their API budget', [['Connector profile'], ['Org'], ['API requests', true], ['Bulk query jobs', true], ['Bulk API batches', true], ['Reserve']], h('tbody', {}, ...rows.map((r) => r.row))),
    ),
    focus,
  );
  await Promise.all(
    rows.map(async ({ name, row }) => {
      /** @type {Array<Node>} */
      let cells;
      try {
        const budget = await api('/describe-connector-profile-api-budget', { connectorProfileName: name });
        const l = budget['limits'] ?? {};
        cells = [h('td', { class: 'num' }, limitCell(l['DailyApiRequests'], 'API requests')), h('td', { class: 'num' }, limitCell(l['DailyBulkV2QueryJobs'], 'Bulk query jobs')), h('td', { class: 'num' }, limitCell(l['DailyBulkApiBatches'], 'Bulk API batches')), h('td', {}, reserveCell(budget))];
      } catch (error) {
        if (error instanceof ApiError && error.type === 'SignedOut') return;
        const text = error instanceof ApiError ? `${ERROR_TITLES[error.type] ?? error.type}: ${error.message}` : String(/** @type {Error} */ (error).message ?? error);
        cells = [h('td', { colspan: String(COLUMNS - 2), class: 'row-error' }, text)];
      }
      if (id !== renderId) return;
      row.replaceChildren(.../** @type {Node[]} */ (Array.from(row.children).slice(0, 2)), ...cells);
    }),
  );
}

/** Route by the URL's hash, so every page can be shared (after signing in). */
async function render() {
  const id = ++renderId;
  stopPolling();
  renderWho();
  const session = await liveSession();
  renderWho();
  if (!session) {
    title('Sign in');
    return show(signInPage());
  }
  // A hand-edited address with a broken escape is read as typed rather than failing the page.
  const parts = location.hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  try {
    if (parts[0] === 'connections') {
      title('Connections');
      return await connectionsPage(id);
    }
    if (parts[0] !== 'flows' || !parts[1]) {
      title('Flows');
      return await flowsPage(id, session);
    }
    if (parts[2] === 'definition') {
      title(`${parts[1]}: definition`);
      return await definitionPage(id, parts[1]);
    }
    if (parts[2] === 'runs' && parts[3]) {
      title(`${parts[1]}: run ${parts[3]}`);
      return await runPage(id, session, parts[1], parts[3]);
    }
    title(parts[1]);
    return await flowPage(id, session, parts[1]);
  } catch (error) {
    if (id !== renderId) return;
    if (!(error instanceof ApiError) || error.type === 'SignedOut') return showError(error);
    // The page says what went wrong; the status line above it would only repeat it.
    say('');
    const heading = error.type === 'ResourceNotFoundException' ? 'Not found' : error.type === 'AccessDeniedException' ? 'Not allowed' : 'Not available';
    title(heading);
    show(h('section', { id: 'problem' }, h('h1', {}, heading), h('p', { class: 'error' }, error.message), h('p', {}, h('a', { href: '#/flows' }, 'All flows'))));
  }
}

async function main() {
  config = /** @type {ConsoleConfig} */ (await (await fetch('/console/config.json')).json());
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) {
    say('Signing in…');
    try {
      await completeSignIn(params);
      say('');
    } catch (error) {
      showError(error);
    }
  }
  window.addEventListener('hashchange', () => {
    say('');
    void render();
  });
  await render();
}

void main().catch(showError);
