// Switchboard's reference console: the Integrations page (everyone) and the
// Team integrations page (admins and developers). It uses only the public
// HTTP API, with a browser session's token, and never decides permissions
// itself: it asks the API and shows the answer, denials included.

const TOKEN_KEY = 'switchboard.session';
const PERSONA_KEY = 'switchboard.persona';
// The integration whose sign-in this tab sent the browser to.
const SIGNING_IN_KEY = 'switchboard.signing-in';
const PAGES = { integrations: 'Integrations', team: 'Team integrations' };

const state = {
  token: null,
  session: null, // GET v1/session: whom the page acts for
  personas: null, // the demo's personas, or null outside the demo
  catalog: new Map(), // integration id -> manifest
  page: 'integrations',
  refresh: null, // re-fetches the page shown (events call it)
  events: null, // AbortController of the event stream
  callback: null, // the outcome of an OAuth sign-in, from the return URL
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

// Builds an element. API data only ever goes in as text, never as markup.
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [key, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (key === 'class') el.className = v;
    else if (key === 'value') value = v;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), v);
    else el.setAttribute(key, v === true ? '' : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  if (value !== undefined) el.value = value; // after the options of a <select>
  return el;
}

const ICONS = {
  check: ['M8 12.5l2.7 2.7L16.2 9.5'],
  empty: [],
  pause: ['M10 8.5v7', 'M14 8.5v7'],
  warn: ['M12 7.5v5.5', 'M12 16.2v.3'],
  cross: ['M9 9l6 6', 'M15 9l-6 6'],
  minus: ['M8 12h8'],
  clock: ['M12 7.5V12l3 2'],
  info: ['M12 11v5.5', 'M12 7.7v.3'],
  lock: ['M9 11.5h6v4.5H9z', 'M10.2 11.5V10a1.8 1.8 0 0 1 3.6 0v1.5'],
};

function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

// A small status icon: a shape as well as a colour, never colour alone.
function icon(name) {
  const ring = svg('circle', { cx: 12, cy: 12, r: 9.5, ...(name === 'empty' ? { 'stroke-dasharray': '3 3' } : {}) });
  return svg('svg', { viewBox: '0 0 24 24', class: `icon icon-${name}`, 'aria-hidden': 'true', focusable: 'false' },
    ring, ...ICONS[name].map((d) => svg('path', { d })));
}

// A status in words with its icon; `tone` only adds colour.
function statusLine({ tone, iconName, text, detail }) {
  return h('p', { class: `status status-${tone}` },
    icon(iconName),
    h('span', { class: 'status-text' }, text,
      detail ? h('span', { class: 'status-detail' }, detail) : null));
}

// Replaces a container's content, keeping keyboard focus where it was: on
// the control with the same data-key, or else on the heading of its card.
function swap(container, ...nodes) {
  const active = document.activeElement;
  const inside = active && container.contains(active);
  const key = inside ? active.closest('[data-key]')?.dataset.key : null;
  const card = inside ? active.closest('[data-card]')?.dataset.card : null;
  // A live update must not wipe what the person is typing (a key, or a
  // setting they are changing from its saved value, `data-saved`).
  const untouched = (field) => field.value === (field.dataset.saved ?? '');
  const typed = [...container.querySelectorAll('input[data-key], textarea[data-key]')]
    .filter((field) => !untouched(field))
    .map((field) => [field.dataset.key, field.value]);
  // Nor the problem they were just shown.
  const shown = [...container.querySelectorAll('[data-errors]')]
    .filter((box) => box.childNodes.length)
    .map((box) => [box.dataset.errors, [...box.childNodes]]);
  container.replaceChildren(...nodes);
  for (const [errorsKey, children] of shown) {
    container.querySelector(`[data-errors="${CSS.escape(errorsKey)}"]`)?.replaceChildren(...children);
  }
  for (const [fieldKey, value] of typed) {
    const field = container.querySelector(`[data-key="${CSS.escape(fieldKey)}"]`);
    if (!field || !untouched(field)) continue;
    field.value = value;
    // A form revealed by a button stays open with what was typed in it.
    const form = field.closest('form[hidden]');
    if (form) {
      form.hidden = false;
      container.querySelector(`[aria-controls="${CSS.escape(form.id)}"]`)?.setAttribute('aria-expanded', 'true');
    }
  }
  if (!inside) return;
  const target = (key && container.querySelector(`[data-key="${CSS.escape(key)}"]`))
    ?? (card && container.querySelector(`[data-card="${CSS.escape(card)}"] h3`));
  target?.focus();
}

const when = (ms) => new Date(ms).toLocaleString();
const num = (n) => Number(n).toLocaleString();
const enc = encodeURIComponent;
const modeWords = (mode) => `${mode} mode`;
const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const humanize = (s) => capitalize(String(s).replaceAll('_', ' '));
const integrationName = (id) => state.catalog.get(id)?.name ?? id;
const ws = () => `v1/workspaces/${enc(state.session.actor.workspace)}`;

// A decorative letter tile standing in for the integration's logo.
function tile(item) {
  const hue = [...item.id].reduce((sum, c) => sum + c.charCodeAt(0), 0) % 6;
  return h('span', { class: `tile tile-${hue}`, 'aria-hidden': 'true' }, item.name.charAt(0));
}

function cardHeader(item, headingId) {
  return h('div', { class: 'card-head' },
    tile(item),
    h('div', {},
      h('h3', { id: headingId, tabindex: '-1' }, item.name),
      h('p', { class: 'muted' }, item.description)));
}

// -------------------------------------------------------------------- the API

class Problem extends Error {
  constructor(doc) {
    super(doc.detail);
    this.status = doc.status;
    this.policies = doc.policies ?? [];
  }

  get planLimited() {
    return this.status === 403 && this.policies.includes('business-plan-only');
  }
}

// Relative to the console's own URL, so a proxy may mount it under a prefix.
function apiUrl(path, query = {}) {
  const url = new URL(`../${path}`, location.href);
  for (const [k, v] of Object.entries(query)) {
    if (v !== '' && v != null) url.searchParams.set(k, v);
  }
  return url;
}

async function api(path, { method = 'GET', body, query, auth = true, allow401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(apiUrl(path, query), {
      method, headers, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Problem({ status: 0, detail: 'The server could not be reached. Check your connection and try again.' });
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const problem = new Problem(typeof data?.detail === 'string' ? data
    : { status: res.status, detail: `The server answered ${res.status} ${res.statusText}.` });
  if (res.status === 401 && auth && !allow401) sessionEnded();
  throw problem;
}

// A problem as the person reads it: always its detail (a denial's detail is
// the policy's reason); the plan denial also says what would lift it.
function problemNotice(err, role = 'alert') {
  const plan = err.planLimited;
  const kind = plan ? 'plan' : err.status === 403 ? 'denied' : 'error';
  return h('div', { class: `notice notice-${kind}`, role },
    icon({ plan: 'info', denied: 'lock', error: 'cross' }[kind]),
    h('div', {},
      plan ? h('strong', { class: 'notice-title' }, 'Upgrade to the Business plan') : null,
      h('p', {}, err.message)));
}

// Inside a box that already has role="alert".
function showError(box, err) {
  box.replaceChildren(problemNotice(err, null));
}

// Where a card shows what went wrong; `key` finds it again after a live
// update has drawn the card anew.
function errorBoxFor(key) {
  return h('div', { class: 'card-error', role: 'alert', 'data-errors': key });
}

// The error box `box` is now: itself, or the one drawn in its place.
function drawnNow(box) {
  if (!box || box.isConnected || !box.dataset.errors) return box;
  return document.querySelector(`[data-errors="${CSS.escape(box.dataset.errors)}"]`);
}

// Runs one click's API work: ignores repeat clicks meanwhile, shows any
// problem in `errorBox`. aria-disabled (not disabled) keeps focus in place.
async function act(button, errorBox, work) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  errorBox?.replaceChildren();
  try {
    await work();
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    // A live update may have drawn the card anew while the call ran.
    const box = drawnNow(errorBox);
    if (box?.isConnected) showError(box, err);
    else announce(err.message);
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

// A button whose click runs API work through act().
function actionButton(label, { key, cls = 'btn', errorBox = null }, work) {
  const button = h('button', { type: 'button', class: cls, 'data-key': key }, label);
  button.addEventListener('click', () => act(button, errorBox, work));
  return button;
}

// --------------------------------------------------------- announcements, dialog

let toastTimer;
function announce(text) {
  const live = $('live');
  live.textContent = '';
  clearTimeout(toastTimer);
  // A fresh text node after a tick, so the same sentence is read out again.
  setTimeout(() => {
    live.textContent = text;
    live.classList.add('show');
    toastTimer = setTimeout(() => live.classList.remove('show'), 10000);
  }, 50);
}

// Asks before a change that affects others. Escape or Cancel answers no;
// focus goes back to the button that asked.
function confirmDialog({ title, text, confirm }) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = confirm;
  const opener = document.activeElement;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (opener?.isConnected) opener.focus();
      resolve(dialog.returnValue === 'confirm');
    }, { once: true });
  });
}

// --------------------------------------------------------- session and start

// Back from an OAuth sign-in: keep the outcome to show, drop the query.
// Only for a sign-in this tab began: a crafted link cannot put its own
// words in the banner.
function consumeCallbackQuery() {
  const params = new URLSearchParams(location.search);
  if (!params.has('integration') || !params.has('status')) return;
  const [integration, status, reason] = ['integration', 'status', 'reason'].map((k) => params.get(k));
  const began = sessionStorage.getItem(SIGNING_IN_KEY);
  sessionStorage.removeItem(SIGNING_IN_KEY);
  if (began === integration) state.callback = { integration, status, reason };
  history.replaceState(history.state, '', `${location.pathname}#integrations`);
}

// The host hands the token in the fragment (never sent to a server); keep it
// for this tab only and take it out of the address bar and history.
function consumeTokenFragment() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (!token) return false;
  sessionStorage.setItem(TOKEN_KEY, token);
  history.replaceState(history.state, '', location.pathname + location.search);
  return true;
}

// Only a demo server answers this (404 otherwise).
async function loadPersonas() {
  const res = await fetch(apiUrl('demo/personas'), { cache: 'no-store' }).catch(() => null);
  const list = res?.ok ? await res.json().catch(() => null) : null;
  return Array.isArray(list) && list.length ? list : null;
}

function renderPersonaSwitcher() {
  const select = $('persona-select');
  select.replaceChildren(
    h('option', { value: '', disabled: true }, 'Choose a persona…'),
    ...state.personas.map((p) => h('option', { value: p.id }, p.label)));
  select.value = '';
  // A button, not the select's change: arrow keys change a select, and
  // each change would open a session and redraw the page (WCAG 3.2.2).
  $('persona-switch').addEventListener('click', () => choosePersona(select.value));
  $('persona').hidden = false;
}

// Shows the persona whose session this is (the token may come from a link).
function syncPersonaSelect() {
  if (!state.personas) return;
  const { user, workspace } = state.session?.actor ?? {};
  const match = state.personas.find((p) => p.id === user && p.workspace === workspace);
  $('persona-select').value = match?.id ?? '';
}

async function choosePersona(id) {
  if (!id) return;
  stopEvents();
  await signOut();
  try {
    const opened = await api('demo/sessions', { method: 'POST', body: { persona: id }, auth: false });
    sessionStorage.setItem(PERSONA_KEY, id);
    sessionStorage.setItem(TOKEN_KEY, (state.token = opened.token));
  } catch (err) {
    sessionStorage.removeItem(PERSONA_KEY);
    return showGate(err.message, 'alert');
  }
  await openSession();
}

async function openSession() {
  stopEvents();
  try {
    state.session = await api('v1/session', { allow401: true });
  } catch (err) {
    return err.status === 401 ? sessionEnded(true) : showGate(err.message, 'alert');
  }
  await loadCatalog();
  renderWho();
  syncPersonaSelect();
  $('nav').hidden = false;
  renderCallbackOutcome();
  await renderPage();
  startEvents();
}

async function loadCatalog() {
  try {
    const { integrations } = await api('v1/integrations');
    state.catalog = new Map(integrations.map((m) => [m.id, m]));
  } catch {
    state.catalog = new Map(); // names fall back to ids; pages still work
  }
}

function renderWho() {
  const { user, workspace, role, plan } = state.session.actor;
  $('who').replaceChildren(
    h('span', { class: 'visually-hidden' }, 'Signed in as '),
    h('span', { class: 'who-user' }, user),
    h('span', { class: 'badge' }, capitalize(role)),
    h('span', { class: 'who-ws' }, `${workspace} · ${capitalize(plan)} plan`));
  $('who').hidden = false;
}

// Without a usable session: say why, and offer nothing else.
function showGate(message, role = 'status') {
  stopEvents();
  state.session = null;
  state.refresh = null;
  $('nav').hidden = true;
  $('who').hidden = true;
  syncPersonaSelect();
  document.title = 'Switchboard';
  $('page').replaceChildren(
    h('h1', { tabindex: '-1' }, 'Switchboard console'),
    h('div', { class: 'notice notice-info', role }, icon('info'), h('p', {}, message)));
  renderCallbackOutcome();
}

function sessionEnded(force = false) {
  if (!state.session && !force) return;
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  showGate(state.personas
    ? 'Your session has ended. Pick a persona again in “Acting as” to continue.'
    : 'Your session has ended. Open the console again from your application.', 'alert');
}

function renderCallbackOutcome() {
  if (!state.callback) return;
  const { integration, status, reason } = state.callback;
  state.callback = null;
  const ok = status === 'connected';
  const name = integrationName(integration);
  const box = h('div', { class: `banner ${ok ? 'banner-ok' : 'banner-error'}`, role: ok ? 'status' : 'alert' },
    icon(ok ? 'check' : 'cross'),
    h('div', { class: 'banner-text' },
      h('strong', {}, ok ? `${name} is connected.` : `${name} could not be connected.`),
      reason ? h('p', {}, reason) : null),
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => box.remove() }, 'Dismiss'));
  $('banner').replaceChildren(box);
}

// ------------------------------------------------------------------- routing

function pageFromHash() {
  return location.hash === '#team' ? 'team' : 'integrations';
}

async function renderPage({ focus = false } = {}) {
  if (!state.session) return;
  for (const link of $('nav').querySelectorAll('a')) {
    if (link.dataset.page === state.page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${PAGES[state.page]} · Switchboard`;
  const root = h('div', { class: 'page' });
  $('page').replaceChildren(root);
  state.refresh = state.page === 'team' ? teamPage(root) : integrationsPage(root);
  if (focus) root.querySelector('h1').focus();
  await state.refresh();
}

function pageHeading(title, lead) {
  return h('header', { class: 'page-head' },
    h('h1', { tabindex: '-1' }, title),
    h('p', { class: 'muted' }, lead));
}

// ------------------------------------------------------- Integrations page

function integrationsPage(root) {
  const lists = h('div', { class: 'stack' }, h('p', { class: 'loading' }, 'Loading…'));
  const tryIt = tryItSection();
  root.append(
    pageHeading('Integrations', 'Connect your own accounts, and see the tools your workspace shares with everyone.'),
    lists, tryIt.el);
  const refresh = refresher(() => api(`${ws()}/integrations`), (data) => {
    swap(lists, ...integrationLists(data, refresh));
    tryIt.setUsable(usableIntegrations(data));
    tryIt.el.hidden = false;
  }, (err) => {
    swap(lists, problemNotice(err, 'note'));
    tryIt.el.hidden = true;
  });
  return refresh;
}

// A page's refresh: fetch, then show; only the newest answer is shown, and
// a problem (a denial, the plan) replaces the page's controls.
function refresher(fetchData, show, fail) {
  let seq = 0;
  return async () => {
    const mine = ++seq;
    try {
      const data = await fetchData();
      if (mine === seq) await show(data);
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      if (mine === seq) fail(err);
    }
  };
}

function integrationLists(data, refresh) {
  const mineList = data.user_integrations;
  const userSection = h('section', { 'aria-labelledby': 'user-integrations' },
    h('h2', { id: 'user-integrations' }, 'User integrations'),
    h('p', { class: 'muted section-lead' }, 'Tools you connect with your own account. Only you can see or use your connections.'),
    mineList.length
      ? h('div', { class: 'cards' }, mineList.map((item) => userCard(item, refresh)))
      : !data.empty_state && h('p', { class: 'empty' }, 'No integration needs your own account yet.'));
  const wsSection = h('section', { 'aria-labelledby': 'workspace-integrations' },
    h('h2', { id: 'workspace-integrations' }, 'Workspace integrations'),
    h('p', { class: 'muted section-lead' }, 'Tools your admin set up for everyone. Nothing to connect: they use the workspace’s key.'),
    data.workspace_integrations.length
      ? h('div', { class: 'cards' }, data.workspace_integrations.map(workspaceCard))
      : !data.empty_state && h('p', { class: 'empty' }, 'No workspace integration yet.'));
  const empty = data.empty_state
    ? h('div', { class: 'notice notice-info' }, icon('info'), h('p', {}, data.empty_state))
    : null;
  return [empty, userSection, wsSection].filter(Boolean);
}

function connectionStatus(item) {
  const c = item.connection;
  if (!c) return { tone: 'neutral', iconName: 'empty', text: 'Not connected' };
  return {
    connected: { tone: 'ok', iconName: 'check', text: `Connected as ${c.account.label}`, detail: c.account.detail },
    suspended: { tone: 'paused', iconName: 'pause', text: `Suspended — an admin disabled ${item.name}; it comes back when re-enabled` },
    needs_reauth: { tone: 'warn', iconName: 'warn', text: 'Needs you to sign in again', detail: c.status_reason },
  }[c.status] ?? { tone: 'error', iconName: 'cross', text: 'Error', detail: c.status_reason };
}

// How a member connects: an API key, or a sign-in (from the catalog).
function userAuthType(id) {
  const mode = state.catalog.get(id)?.modes.find((m) => m.mode === 'user');
  return mode?.auth.type ?? 'oauth2';
}

function userCard(item, refresh) {
  const headingId = `card-${item.id}`;
  const errorBox = errorBoxFor(`${item.id}:card`);
  return h('article', { class: 'card', 'aria-labelledby': headingId, 'data-card': item.id },
    cardHeader(item, headingId),
    statusLine(connectionStatus(item)),
    item.connection ? connectionFacts(item.connection) : null,
    connectionControls(item, errorBox, refresh),
    errorBox);
}

function connectionFacts(c) {
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Connected'), h('dd', {}, when(c.connected_at_ms)),
    h('dt', {}, 'Last used'), h('dd', {}, c.last_used_at_ms ? when(c.last_used_at_ms) : 'Not used yet'));
  if (!c.scopes.length) return facts;
  return [facts, h('details', { class: 'scopes' },
    h('summary', {}, `Permissions granted (${c.scopes.length})`),
    h('ul', {}, c.scopes.map((s) => h('li', {}, h('code', {}, s)))))];
}

// The one button the API offers to fix the state (Connect / Reconnect), and
// Disconnect whenever I have a connection (a suspended one included: the
// member may drop it rather than wait).
function connectionControls(item, errorBox, refresh) {
  const row = h('div', { class: 'card-actions' });
  const extra = [];
  const fix = ['Connect', 'Reconnect'].includes(item.action) ? item.action : null;
  if (fix && userAuthType(item.id).startsWith('api_key')) {
    const { button, form } = keyConnectForm(item, fix, errorBox, refresh);
    row.append(button);
    extra.push(form);
  } else if (fix) {
    row.append(actionButton(fix, { key: `${item.id}:connect`, cls: 'btn btn-primary', errorBox }, () => startSignIn(item)));
  }
  if (item.connection) {
    row.append(actionButton('Disconnect', { key: `${item.id}:disconnect`, errorBox }, async () => {
      await api(`${ws()}/connections/${enc(item.connection.id)}`, { method: 'DELETE' });
      announce(`Disconnected from ${item.name}.`);
      await refresh();
    }));
  }
  return [row, ...extra];
}

// OAuth: the API answers where to sign in; the provider sends the browser
// back here with ?integration=…&status=…&reason=….
async function startSignIn(item) {
  const answer = await api(`${ws()}/integrations/${enc(item.id)}/connect`, {
    method: 'POST', body: { return_to: location.origin + location.pathname },
  });
  const url = answer.sign_in?.start_url;
  if (!url) throw new Problem({ status: 0, detail: `${item.name} sign-in has to be finished by your application. Open the console again from there.` });
  sessionStorage.setItem(SIGNING_IN_KEY, item.id);
  location.assign(url);
}

// The fields a mode's credential asks for: one API key, or several (an
// email and a token), as the plugin's manifest in the catalog says.
function credentialFields(id, mode) {
  const auth = state.catalog.get(id)?.modes.find((m) => m.mode === mode)?.auth;
  return auth?.fields?.length ? auth.fields : [{ name: 'key', label: 'API key', secret: true }];
}

// One input per field of a credential, the label of a lone key being
// `keyLabel`; `body(keyName)` is the request body they make: the key as
// `keyName`, or every field under `fields`. Secret fields are never shown back.
function credentialInputs(prefix, fields, keyLabel, keyDataKey) {
  const lone = fields.length === 1;
  const inputs = fields.map((f) => h('input', {
    id: `${prefix}-${f.name}`, type: f.secret ? 'password' : 'text', autocomplete: 'off', spellcheck: 'false', required: true,
    'data-key': lone ? keyDataKey : `${keyDataKey}:${f.name}`,
  }));
  const labelled = fields.map((f, i) => h('div', { class: 'field' }, h('label', { for: inputs[i].id }, lone ? keyLabel : f.label), inputs[i]));
  return {
    first: inputs[0],
    labelled,
    body: (keyName) => (lone ? { [keyName]: inputs[0].value } : { fields: Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value])) }),
    clear: () => inputs.forEach((input) => { input.value = ''; }),
  };
}

// API key: the button reveals a small form; the key is never shown back.
function keyConnectForm(item, label, errorBox, refresh) {
  const formId = `connect-${item.id}`;
  const button = h('button', { type: 'button', class: 'btn btn-primary', 'aria-expanded': 'false', 'aria-controls': formId, 'data-key': `${item.id}:reveal` }, label);
  const fields = credentialInputs(`key-${item.id}`, credentialFields(item.id, 'user'), 'Your API key', `${item.id}:key`);
  const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Connect');
  const form = h('form', { id: formId, class: 'key-form', hidden: true },
    h('div', { class: 'field-row' }, ...fields.labelled, submit, cancel));
  const toggle = (open) => {
    form.hidden = !open;
    button.hidden = open;
    button.setAttribute('aria-expanded', String(open));
    (open ? fields.first : button).focus();
  };
  button.addEventListener('click', () => toggle(true));
  cancel.addEventListener('click', () => toggle(false));
  form.addEventListener('keydown', (e) => { if (e.key === 'Escape') toggle(false); });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(submit, errorBox, async () => {
      const answer = await api(`${ws()}/integrations/${enc(item.id)}/connect`, {
        method: 'POST', body: fields.body('api_key'),
      });
      fields.clear();
      const account = answer.connection?.account.label;
      announce([`${item.name} is connected${account ? ` as ${account}` : ''}.`, answer.notice].filter(Boolean).join(' '));
      await refresh();
    });
  });
  return { button, form };
}

function workspaceCard(item) {
  const headingId = `ws-card-${item.id}`;
  const status = item.ready
    ? { tone: 'ok', iconName: 'check', text: 'Ready for everyone' }
    : { tone: 'warn', iconName: 'clock', text: 'Not set up yet: an admin must add the key' };
  return h('article', { class: 'card', 'aria-labelledby': headingId, 'data-card': `ws-${item.id}` },
    cardHeader(item, headingId), statusLine(status));
}

// What Try it can run: my working connections and ready workspace tools.
function usableIntegrations(data) {
  return [
    ...data.user_integrations.filter((u) => u.connection?.status === 'connected'),
    ...data.workspace_integrations.filter((w) => w.ready),
  ].map(({ id, name }) => ({ id, name }));
}

// ------------------------------------------------------------------- Try it

function tryItSection() {
  const integration = h('select', { id: 'try-integration' });
  const action = h('select', { id: 'try-action' });
  const about = h('p', { class: 'muted action-about', id: 'try-action-about' });
  const input = h('textarea', { id: 'try-input', rows: '6', spellcheck: 'false', 'aria-describedby': 'try-action-about' });
  const run = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Run');
  const note = h('p', { class: 'empty', hidden: true }, 'Connect an integration above, or ask an admin to set one up, to try its actions.');
  const result = h('div', { class: 'result', role: 'region', 'aria-label': 'Result' });
  const form = h('form', { class: 'try-form' },
    h('div', { class: 'field-grid' },
      h('div', { class: 'field' }, h('label', { for: integration.id }, 'Integration'), integration),
      h('div', { class: 'field' }, h('label', { for: action.id }, 'Action'), action)),
    about,
    h('div', { class: 'field' }, h('label', { for: input.id }, 'Input (JSON)'), input),
    h('div', { class: 'card-actions' }, run));
  const el = h('section', { class: 'panel', 'aria-labelledby': 'try-it', hidden: true },
    h('h2', { id: 'try-it' }, 'Try it'),
    h('p', { class: 'muted section-lead' }, 'Run an action through an integration you can use, and see what it returns.'),
    note, form, result);

  let current = null;
  const specs = () => state.catalog.get(integration.value)?.actions ?? [];

  function chooseAction() {
    const spec = specs().find((a) => a.name === action.value);
    about.textContent = spec
      ? `${spec.description} ${spec.credit_cost ? `Costs ${spec.credit_cost} credit${spec.credit_cost === 1 ? '' : 's'} per call.` : 'Free.'}`
      : '';
    input.value = spec ? JSON.stringify(prefill(spec.input_schema), null, 2) : '';
  }

  function chooseIntegration() {
    current = integration.value;
    action.replaceChildren(...specs().map((a) => h('option', { value: a.name }, a.name)));
    chooseAction();
    result.replaceChildren();
  }

  integration.addEventListener('change', chooseIntegration);
  action.addEventListener('change', chooseAction);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(run, null, () => runAction(integration.value, action.value, input.value, result));
  });

  // Called on every refresh: keeps the selection (and typed input) if it
  // is still usable.
  function setUsable(list) {
    integration.replaceChildren(...list.map((u) => h('option', { value: u.id }, u.name)));
    note.hidden = list.length > 0;
    form.hidden = list.length === 0;
    if (!list.length) { current = null; result.replaceChildren(); return; }
    if (list.some((u) => u.id === current)) integration.value = current;
    else chooseIntegration();
  }

  return { el, setUsable };
}

// The required properties, with their default or an empty string.
function prefill(schema) {
  const input = {};
  for (const name of schema?.required ?? []) {
    input[name] = schema.properties?.[name]?.default ?? '';
  }
  return input;
}

async function runAction(integration, action, text, result) {
  let input;
  try {
    input = JSON.parse(text);
  } catch (err) {
    result.replaceChildren(problemNotice(new Problem({ status: 0, detail: `The input is not valid JSON: ${err.message}` })));
    return;
  }
  result.replaceChildren(h('p', { class: 'loading' }, 'Running…'));
  try {
    const output = await api(`${ws()}/integrations/${enc(integration)}/actions/${enc(action)}`, { method: 'POST', body: input });
    result.replaceChildren(...renderOutput(output));
    // A short sentence rather than a live region reading the whole table.
    const rows = result.querySelectorAll('tbody tr').length;
    announce(`${action} finished${rows ? `: ${rows} row${rows === 1 ? '' : 's'}` : ''}.`);
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    result.replaceChildren(problemNotice(err));
  }
}

const isRecord = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isRows = (v) => Array.isArray(v) && v.length > 0 && v.every(isRecord);

// Arrays of row objects become tables (the output itself, or its fields,
// e.g. Semrush's {rows: [...]}); the rest is shown as JSON.
function renderOutput(output) {
  const parts = [];
  if (isRows(output)) parts.push(rowsTable(output));
  else if (isRecord(output)) {
    const rest = {};
    for (const [key, value] of Object.entries(output)) {
      if (isRows(value)) parts.push(rowsTable(value, humanize(key)));
      else if (Array.isArray(value) && value.length === 0) parts.push(h('p', { class: 'empty' }, `No ${humanize(key).toLowerCase()}: nothing was found.`));
      else rest[key] = value;
    }
    if (parts.length && Object.keys(rest).length) parts.push(h('pre', { class: 'json' }, JSON.stringify(rest, null, 2)));
  }
  if (!parts.length) return [h('pre', { class: 'json' }, JSON.stringify(output, null, 2))];
  parts.push(h('details', { class: 'raw' }, h('summary', {}, 'Raw JSON'), h('pre', { class: 'json' }, JSON.stringify(output, null, 2))));
  return parts;
}

// Nested objects are flattened one level (e.g. document.name).
function flatten(row) {
  const flat = {};
  for (const [key, value] of Object.entries(row)) {
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) flat[`${key}.${k}`] = v;
    else flat[key] = value;
  }
  return flat;
}

function rowsTable(rows, caption) {
  const flat = rows.map(flatten);
  const columns = [...new Set(flat.flatMap(Object.keys))];
  return h('div', { class: 'table-wrap' },
    h('table', {},
      caption ? h('caption', {}, `${caption} (${rows.length})`) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, humanize(c))))),
      h('tbody', {}, flat.map((row) => h('tr', {}, columns.map((c) => h('td', {}, cell(row[c]))))))));
}

function cell(value) {
  if (value == null) return '—';
  if (typeof value === 'number') return num(value);
  if (typeof value === 'string' && /^https:\/\//.test(value)) {
    return h('a', { href: value, target: '_blank', rel: 'noopener noreferrer' }, value);
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

// ------------------------------------------------------ Team integrations page

function teamPage(root) {
  const list = h('section', { 'aria-labelledby': 'team-list' }, h('p', { class: 'loading' }, 'Loading…'));
  root.append(pageHeading('Team integrations', 'Decide which tools your team may use, and how: with one shared key, or each member’s own account.'), list);
  let extra = null; // usage and audit, once the API lets this person in
  const refresh = refresher(() => api(`${ws()}/team-integrations`), async (data) => {
    swap(list,
      h('h2', { id: 'team-list' }, 'Available integrations'),
      h('div', { class: 'cards cards-wide' }, data.integrations.map((t) => teamCard(t, refresh))));
    if (!extra) root.append(...(extra = [usageSection(), auditSection()]).map((x) => x.el));
    await Promise.all(extra.map((x) => x.load()));
  }, (err) => {
    swap(list, problemNotice(err, 'note'));
    extra?.forEach((x) => x.el.remove());
    extra = null;
  });
  return refresh;
}

function teamCard(t, refresh) {
  const headingId = `team-card-${t.id}`;
  const errorBox = errorBoxFor(`${t.id}:team-card`);
  const settings = settingsInputs(t, errorBox, refresh);
  const enabled = t.enabled;
  const status = enabled
    ? { tone: 'ok', iconName: 'check', text: `Enabled in ${modeWords(enabled.mode)}` }
    : { tone: 'neutral', iconName: 'minus', text: 'Disabled' };
  return h('article', { class: 'card', 'aria-labelledby': headingId, 'data-card': t.id },
    cardHeader(t, headingId),
    statusLine(status),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Modes'), h('dd', {}, t.modes.map((m) => h('span', { class: 'chip' }, capitalize(m)))),
      enabled ? [h('dt', {}, 'Enabled by'), h('dd', {}, `${enabled.enabled_by} on ${when(enabled.enabled_at_ms)}`)] : null,
      enabled?.mode === 'user' ? [h('dt', {}, 'Active connections'), h('dd', {}, num(t.active_connections))] : null),
    t.needs_approval.length && enabled ? approvalNotice(t, errorBox, refresh) : null,
    permissionsDetails(t),
    settings?.panel,
    h('div', { class: 'card-actions' }, modeButtons(t, errorBox, refresh, settings)),
    errorBox,
    enabled?.mode === 'workspace' ? credentialPanel(t, refresh) : null);
}

// The plugin's settings for this workspace (a subdomain), as its manifest
// in the catalog declares them: filled in before enabling, saved again by
// enabling in the same mode. `null` for a plugin without settings.
function settingsInputs(t, errorBox, refresh) {
  const specs = state.catalog.get(t.id)?.settings ?? [];
  if (!specs.length) return null;
  const id = `settings-${t.id}`;
  const saved = t.enabled?.settings ?? {};
  const inputs = specs.map((spec) => h('input', {
    id: `${id}-${spec.name}`, type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
    value: saved[spec.name] ?? '', 'data-saved': saved[spec.name] ?? '',
    'aria-describedby': `${id}-${spec.name}-help`, 'data-key': `${t.id}:setting:${spec.name}`,
  }));
  const values = () => Object.fromEntries(specs.map((spec, i) => [spec.name, inputs[i].value]));
  // Once saved, what was typed is no longer the person's to keep across
  // the page's refresh: the saved (trimmed) values come back instead.
  const markSaved = () => inputs.forEach((input) => { input.dataset.saved = input.value; });
  // Whether saving would send credentials to other hosts than `from` did
  // (a setting in a credential host changed): the engine then drops what
  // was checked at the old ones.
  const movesCredentials = (from = saved) => specs.some((spec, i) => inputs[i].value.trim() !== (from[spec.name] ?? '')
    && t.permissions.some((p) => p.credential_hosts.some((host) => host.includes(`{${spec.name}}`))));
  const fields = specs.map((spec, i) => h('div', { class: 'field' },
    h('label', { for: inputs[i].id }, spec.label), inputs[i],
    h('p', { id: `${inputs[i].id}-help`, class: 'muted small' }, spec.description)));
  const save = t.enabled
    ? actionButton('Save settings', { key: `${t.id}:save-settings`, errorBox }, async () => {
      const text = movesCredentials() && movedText(t, await connectedMembers(t));
      if (text && !await confirmDialog({ title: `Change ${t.name}'s settings?`, text, confirm: 'Save settings' })) return;
      await api(`${ws()}/team-integrations/${enc(t.id)}/enable`, { method: 'POST', body: { mode: t.enabled.mode, settings: values() } });
      markSaved();
      announce(`${t.name}'s settings are saved.`);
      await refresh();
    })
    : null;
  const panel = h('section', { class: 'subpanel', 'aria-labelledby': id },
    h('h4', { id }, 'Settings'),
    h('div', { class: 'field-row' }, ...fields),
    save ? h('div', { class: 'card-actions' }, save) : null);
  return { panel, values, markSaved, movesCredentials };
}

// What saving settings that move credentials to other hosts takes away,
// with `connected` members; `null` when nothing is saved to lose.
function movedText(t, connected) {
  const lost = [
    t.credential ? 'the saved key will be removed' : null,
    connected === 1 ? '1 member will have to connect again' : null,
    connected > 1 ? `${connected} members will have to connect again` : null,
  ].filter(Boolean);
  if (!lost.length) return null;
  return `Keys are sent to the address these settings make. One checked at the old address is not sent to the new one, so ${lost.join(', and ')}.`;
}

function modeDescription(permission) {
  if (permission.mode === 'workspace') return 'one shared key, set by an admin, for everyone';
  return permission.auth.type === 'oauth2'
    ? 'each member signs in with their own account'
    : 'each member connects with their own API key';
}

// What enabling approves: how it signs in, where the credential goes, every
// host it may call, the scopes it asks for.
function permissionsDetails(t) {
  const shown = t.enabled ? t.permissions.filter((p) => p.mode === t.enabled.mode) : t.permissions;
  return h('details', { class: 'permissions' },
    h('summary', {}, t.enabled ? 'What it is allowed to do' : 'What enabling it allows'),
    shown.map((p) => h('div', { class: 'permission' },
      h('p', {}, h('strong', {}, capitalize(modeWords(p.mode))), `: ${modeDescription(p)}.`),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Signs in with'), h('dd', {}, p.auth.type === 'oauth2' ? `OAuth 2.0 at ${new URL(p.auth.authorize_url).host}` : 'An API key'),
        h('dt', {}, 'Credential sent to'), h('dd', {}, p.credential_hosts.join(', ')),
        h('dt', {}, 'May call'), h('dd', {}, p.hosts.join(', ')),
        p.scopes.length ? [h('dt', {}, 'Scopes'), h('dd', {}, p.scopes.map((s) => h('code', { class: 'scope' }, s)))] : null))));
}

function approvalNotice(t, errorBox, refresh) {
  const mode = t.enabled.mode;
  const button = actionButton('Approve the new permissions', { key: `${t.id}:approve`, cls: 'btn btn-primary', errorBox }, async () => {
    await api(`${ws()}/team-integrations/${enc(t.id)}/enable`, { method: 'POST', body: { mode, version: t.version } });
    announce(`${t.name} is approved and enabled in ${modeWords(mode)} again.`);
    await refresh();
  });
  return h('div', { class: 'notice notice-warn' }, icon('warn'),
    h('div', {},
      h('strong', { class: 'notice-title' }, `${t.name} was upgraded and asks for more than was approved`),
      h('p', {}, 'Its calls are refused until an admin approves:'),
      h('ul', {}, t.needs_approval.map((n) => h('li', {}, n))),
      button));
}

function suspendSentence(n, until = 'until it is enabled again') {
  return n === 1
    ? `1 member's connection will be suspended ${until}.`
    : `${n} members' connections will be suspended ${until}.`;
}

// Members connect without the admin's page knowing: count them afresh.
async function connectedMembers(t) {
  const { integrations } = await api(`${ws()}/team-integrations`);
  return integrations.find((i) => i.id === t.id)?.active_connections ?? t.active_connections;
}

function disableText(t, n) {
  if (n > 0) return suspendSentence(n);
  return t.enabled.mode === 'workspace'
    ? 'Nobody in the workspace can use it until it is enabled again.'
    : 'No member has an active connection, so none will be suspended.';
}

function modeButtons(t, errorBox, refresh, settings) {
  const button = (label, key, work, cls = 'btn') => actionButton(label, { key: `${t.id}:${key}`, cls, errorBox }, work);
  const enable = async (mode) => {
    const enabled = await api(`${ws()}/team-integrations/${enc(t.id)}/enable`, {
      method: 'POST', body: settings ? { mode, settings: settings.values() } : { mode },
    });
    settings?.markSaved();
    return enabled;
  };
  const disable = () => api(`${ws()}/team-integrations/${enc(t.id)}/disable`, { method: 'POST' });

  if (!t.enabled) {
    return t.modes.map((mode) => button(`Enable in ${modeWords(mode)}`, `enable-${mode}`, async () => {
      // The key kept while it was disabled was checked with its settings.
      const checkedWith = t.credential?.checked_with;
      const text = checkedWith && settings?.movesCredentials(checkedWith) && movedText(t, 0);
      if (text && !await confirmDialog({ title: `Enable ${t.name} with other settings?`, text, confirm: 'Enable' })) return;
      await enable(mode);
      announce(`${t.name} is enabled in ${modeWords(mode)}.`);
      await refresh();
    }, 'btn btn-primary'));
  }
  const buttons = [button('Disable', 'disable', async () => {
    const text = disableText(t, await connectedMembers(t));
    if (!await confirmDialog({ title: `Disable ${t.name}?`, text, confirm: 'Disable' })) return;
    await disable();
    announce(`${t.name} is disabled.`);
    await refresh();
  }, 'btn btn-danger-quiet')];
  for (const mode of t.modes.filter((m) => m !== t.enabled.mode)) {
    buttons.push(button(`Switch to ${modeWords(mode)}`, `switch-${mode}`, () => switchMode(t, mode, { enable, disable, refresh, settings })));
  }
  return buttons;
}

// One mode at a time: switching is a disable, then an enable in the other.
async function switchMode(t, mode, { enable, disable, refresh, settings }) {
  const n = await connectedMembers(t);
  const moves = settings?.movesCredentials();
  const text = [
    `It is disabled, then enabled in ${modeWords(mode)}.`,
    mode === 'user' ? 'Each member will connect their own account.'
      : `Everyone will use one shared key${t.credential && !moves ? ': the one already saved' : ', which you add next'}.`,
    moves ? movedText(t, n)
      : n > 0 ? suspendSentence(n, `until ${modeWords(t.enabled.mode)} is enabled again`) : null,
  ].filter(Boolean).join(' ');
  if (!await confirmDialog({ title: `Switch ${t.name} to ${modeWords(mode)}?`, text, confirm: 'Switch' })) return;
  await disable();
  try {
    await enable(mode);
  } catch (err) {
    await refresh();
    throw new Problem({ status: err.status, policies: err.policies, detail: `${t.name} was disabled, but could not be enabled in ${modeWords(mode)}: ${err.message}` });
  }
  announce(`${t.name} now works in ${modeWords(mode)}.`);
  await refresh();
}

function credentialPanel(t, refresh) {
  const c = t.credential;
  const id = `cred-${t.id}`;
  const errorBox = errorBoxFor(`${t.id}:credential`);
  const fields = credentialInputs(`${id}-input`, credentialFields(t.id, 'workspace'), 'Workspace API key', `${t.id}:secret`);
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-key': `${t.id}:save` }, c ? 'Replace key' : 'Save key');
  const form = h('form', { class: 'key-form' },
    h('div', { class: 'field-row' }, ...fields.labelled, save));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(save, errorBox, async () => {
      const saved = await api(`${ws()}/team-integrations/${enc(t.id)}/credential`, { method: 'PUT', body: fields.body('secret') });
      fields.clear();
      announce([`Key saved: ${saved.label}${saved.detail ? ` (${saved.detail})` : ''}.`, saved.notice].filter(Boolean).join(' '));
      await refresh();
    });
  });
  const status = c
    ? { tone: 'ok', iconName: 'check', text: `Key set: ${c.account.label}`, detail: c.account.detail }
    : { tone: 'warn', iconName: 'warn', text: `No key yet: members can't use ${t.name} until you add one` };
  return h('section', { class: 'subpanel', 'aria-labelledby': id },
    h('h4', { id }, 'Workspace key'),
    statusLine(status),
    c ? h('p', { class: 'muted small' }, `Set by ${c.set_by} on ${when(c.set_at_ms)} · Last checked ${when(c.checked_at_ms)}`) : null,
    form,
    c ? h('div', { class: 'card-actions' }, keyButtons(t, errorBox, refresh)) : null,
    errorBox);
}

function keyButtons(t, errorBox, refresh) {
  const path = `${ws()}/team-integrations/${enc(t.id)}/credential`;
  const check = actionButton('Check key', { key: `${t.id}:check`, errorBox }, async () => {
    const account = await api(`${path}/check`, { method: 'POST' });
    announce(`The key works: ${account.label}${account.detail ? ` (${account.detail})` : ''}.`);
    await refresh();
  });
  const remove = actionButton('Remove key', { key: `${t.id}:remove`, cls: 'btn btn-danger-quiet', errorBox }, async () => {
    const text = `Nobody in the workspace can use ${t.name} until an admin adds a new key.`;
    if (!await confirmDialog({ title: `Remove the ${t.name} key?`, text, confirm: 'Remove key' })) return;
    await api(path, { method: 'DELETE' });
    announce(`The ${t.name} key was removed.`);
    await refresh();
  });
  return [check, remove];
}

// --------------------------------------------------------------------- Usage

// A local date as a date input's value (yyyy-mm-dd).
const isoDay = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);

function usageSection() {
  const period = h('select', { id: 'usage-period' },
    h('option', { value: 'month' }, 'This month'),
    h('option', { value: '30d' }, 'Last 30 days'),
    h('option', { value: 'custom' }, 'Custom dates'));
  const from = h('input', { id: 'usage-from', type: 'date', required: true });
  const to = h('input', { id: 'usage-to', type: 'date', required: true });
  const show = h('button', { type: 'submit', class: 'btn' }, 'Show usage');
  const custom = h('form', { class: 'field-grid custom-range', hidden: true },
    h('div', { class: 'field' }, h('label', { for: from.id }, 'From'), from),
    h('div', { class: 'field' }, h('label', { for: to.id }, 'To'), to),
    h('div', { class: 'field field-end' }, show));
  const out = h('div', { class: 'usage-out' });
  const el = h('section', { class: 'panel', 'aria-labelledby': 'usage' },
    h('h2', { id: 'usage' }, 'Usage'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: period.id }, 'Period'), period)),
    custom, out);

  function range() {
    const now = new Date();
    if (period.value === 'month') return { from_ms: new Date(now.getFullYear(), now.getMonth(), 1).getTime(), to_ms: now.getTime() };
    if (period.value === '30d') return { from_ms: now.getTime() - 30 * 86400000, to_ms: now.getTime() };
    if (!from.value || !to.value) return null;
    // Whole local days: a date-time without a zone is local time.
    return { from_ms: Date.parse(`${from.value}T00:00`), to_ms: Date.parse(`${to.value}T23:59:59.999`) };
  }

  async function load() {
    const query = range();
    if (!query) return;
    if (query.from_ms > query.to_ms) {
      out.replaceChildren(problemNotice(new Problem({ status: 0, detail: 'The “From” date must come before the “To” date.' })));
      return;
    }
    try {
      out.replaceChildren(usageTable(await api(`${ws()}/usage`, { query })));
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      out.replaceChildren(problemNotice(err));
    }
  }

  period.addEventListener('change', () => {
    custom.hidden = period.value !== 'custom';
    if (period.value !== 'custom') return void load();
    if (!from.value) {
      const now = new Date();
      from.value = isoDay(new Date(now.getFullYear(), now.getMonth(), 1));
      to.value = isoDay(now);
    }
    from.focus();
  });
  custom.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  return { el, load };
}

function usageTable(report) {
  const rows = [];
  let calls = 0;
  let credits = 0;
  for (const u of report.integrations) {
    calls += u.calls;
    credits += u.credits;
    rows.push(h('tr', { class: 'group-row' },
      h('th', { scope: 'row' }, integrationName(u.integration)),
      h('td', {}, num(u.connected_members)), h('td', {}, num(u.calls)), h('td', {}, num(u.credits))));
    for (const m of u.members) {
      rows.push(h('tr', { class: 'member-row' },
        h('th', { scope: 'row' }, h('span', { class: 'visually-hidden' }, `${integrationName(u.integration)}, member `), m.user),
        h('td', {}, ''), h('td', {}, num(m.calls)), h('td', {}, num(m.credits))));
    }
  }
  if (!rows.length) return h('p', { class: 'empty' }, 'No integration to report on.');
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data usage' },
      h('caption', {}, `Calls and credits from ${when(report.from_ms)} to ${when(report.to_ms)}`),
      h('thead', {}, h('tr', {},
        ['Integration', 'Connected members', 'Calls', 'Credits'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows),
      h('tfoot', {}, h('tr', {},
        h('th', { scope: 'row' }, 'Total'), h('td', {}, ''), h('td', {}, num(calls)), h('td', {}, num(credits))))));
}

// --------------------------------------------------------------- Audit trail

function auditSection() {
  const integration = h('select', { id: 'audit-integration' },
    h('option', { value: '' }, 'All integrations'),
    [...state.catalog.values()].map((m) => h('option', { value: m.id }, m.name)));
  const actor = h('input', { id: 'audit-actor', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. ada' });
  const outcome = h('select', { id: 'audit-outcome' },
    h('option', { value: '' }, 'Any outcome'),
    ['allowed', 'denied', 'failed'].map((o) => h('option', { value: o }, capitalize(o))));
  const filters = h('form', { class: 'field-grid filters' },
    h('div', { class: 'field' }, h('label', { for: integration.id }, 'Integration'), integration),
    h('div', { class: 'field' }, h('label', { for: actor.id }, 'Actor'), actor),
    h('div', { class: 'field' }, h('label', { for: outcome.id }, 'Outcome'), outcome),
    h('div', { class: 'field field-end' }, h('button', { type: 'submit', class: 'btn' }, 'Apply filters')));
  const body = h('tbody');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'data audit' },
    h('caption', { class: 'visually-hidden' }, 'Audit records, newest first'),
    h('thead', {}, h('tr', {}, ['Time', 'Who', 'Operation', 'Integration', 'Outcome', 'Detail'].map((c) => h('th', { scope: 'col' }, c)))),
    body));
  const message = h('div', { class: 'audit-message' });
  const older = h('button', { type: 'button', class: 'btn', hidden: true, 'data-key': 'audit-older' }, 'Load older');
  const el = h('section', { class: 'panel', 'aria-labelledby': 'audit' },
    h('h2', { id: 'audit' }, 'Audit trail'),
    h('p', { class: 'muted section-lead' }, 'Every change and every denial in this workspace, newest first.'),
    filters, table, message, older);
  let next = null;

  async function load({ append = false } = {}) {
    const query = { integration: integration.value, actor: actor.value.trim(), outcome: outcome.value, limit: 25, before: append ? next : null };
    try {
      const page = await api(`${ws()}/audit`, { query });
      if (!append) body.replaceChildren();
      body.append(...page.records.map(auditRow));
      next = page.next_before ?? null;
      older.hidden = next == null;
      table.hidden = body.children.length === 0;
      message.replaceChildren(body.children.length ? '' : h('p', { class: 'empty' }, 'No records match these filters.'));
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      message.replaceChildren(problemNotice(err));
    }
  }

  filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  older.addEventListener('click', () => act(older, message, () => load({ append: true })));
  return { el, load };
}

function outcomeCell(outcome) {
  const kinds = {
    allowed: { tone: 'ok', iconName: 'check', text: 'Allowed' },
    denied: { tone: 'error', iconName: 'cross', text: 'Denied', detail: outcome.reason },
    failed: { tone: 'warn', iconName: 'warn', text: 'Failed', detail: outcome.message },
  };
  return statusLine(kinds[outcome.result] ?? { tone: 'neutral', iconName: 'info', text: humanize(outcome.result) });
}

// Long details (an enable's permissions) fold behind their first words.
function detailCell(text) {
  if (!text) return '—';
  if (text.length <= 90) return text;
  return h('details', {}, h('summary', {}, `${text.slice(0, 60).trimEnd()}…`), h('p', {}, text));
}

function auditRow(r) {
  return h('tr', {},
    h('td', { class: 'nowrap' }, when(r.at_ms)),
    h('td', {}, r.actor, h('span', { class: 'muted' }, ` (${r.role})`)),
    h('td', {}, humanize(r.operation)),
    h('td', {}, r.integration ? integrationName(r.integration) : '—'),
    h('td', { class: 'outcome' }, outcomeCell(r.outcome)),
    h('td', { class: 'detail' }, detailCell(r.detail)));
}

// -------------------------------------------------------------------- events

// The event stream needs the Authorization header, which EventSource cannot
// send: read it with fetch and parse it here. Reconnects with backoff.
function startEvents() {
  stopEvents();
  state.events = new AbortController();
  streamEvents(state.events.signal);
}

// Ends this tab's session on the server too (best effort: the next one
// is opened whatever happens), so a switched-away persona's token is dead.
async function signOut() {
  const id = state.session?.id;
  if (!id || !state.token) return;
  await api(`v1/sessions/${enc(id)}`, { method: 'DELETE', allow401: true }).catch(() => {});
  state.session = null;
}

function stopEvents() {
  state.events?.abort();
  state.events = null;
}

async function streamEvents(signal) {
  let delay = 1000;
  let reconnecting = false;
  while (!signal.aborted) {
    try {
      const res = await fetch(apiUrl('v1/events'), {
        headers: { Authorization: `Bearer ${state.token}`, Accept: 'text/event-stream' },
        cache: 'no-store', signal,
      });
      if (res.status === 401) return sessionEnded();
      if (res.ok && res.body) {
        delay = 1000;
        if (reconnecting) state.refresh?.(); // events may have been missed meanwhile
        reconnecting = true;
        await readEvents(res.body, onEvent);
      }
    } catch {
      // The stream failed or was aborted: retry below unless aborted.
    }
    if (signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 30000);
  }
}

async function readEvents(body, dispatch) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop();
    for (const block of blocks) parseEvent(block, dispatch);
  }
}

function parseEvent(block, dispatch) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue; // comments keep the stream alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') name = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return;
  try {
    dispatch(name, JSON.parse(data.join('\n')));
  } catch {
    // Not an event this console knows: ignore it.
  }
}

let refreshTimer;
function onEvent(name, event) {
  if (!state.session || event.workspace !== state.session.actor.workspace) return;
  announce(eventSentence(name, event));
  // Events come in bursts (a mode switch is two): refresh once.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => state.refresh?.(), 150);
}

// One short sentence per event, in the words of the person reading it.
function eventSentence(kind, event) {
  const name = integrationName(event.integration);
  const mine = event.users?.includes(state.session.actor.user);
  const sentences = {
    integration_disabled: `${name} was disabled by an admin${mine ? ': your connection is suspended' : ''}.`,
    integration_enabled: `${name} was enabled by an admin.`,
    connections_restored: `${name} is back: ${mine ? 'your connection works' : "members' connections work"} again.`,
    needs_reauth: `${mine ? `${name} needs you` : `A member's ${name} connection needs them`} to sign in again.${event.reason ? ` ${event.reason}` : ''}`,
    needs_approval: `${name} was upgraded and asks for more than was approved: an admin must approve it before it can be used again.`,
  };
  return sentences[event.kind ?? kind] ?? `${name} changed.`;
}

// ---------------------------------------------------------------------- boot

function wireChrome() {
  $('skip-link').addEventListener('click', (e) => {
    e.preventDefault(); // the hash holds the page: focus instead of jumping
    $('main').focus();
  });
  window.addEventListener('hashchange', () => {
    // A session arrives with the page only: one in a later fragment (a
    // window someone else opened, say) must not swap who this tab is.
    if (location.hash.startsWith('#token=')) {
      return void history.replaceState(history.state, '', `${location.pathname}#${state.page}`);
    }
    const page = pageFromHash();
    if (page === state.page) return;
    state.page = page;
    $('banner').replaceChildren();
    renderPage({ focus: true });
  });
}

async function boot() {
  consumeCallbackQuery();
  const linked = consumeTokenFragment();
  state.page = pageFromHash();
  state.token = sessionStorage.getItem(TOKEN_KEY);
  // The demo remembers the persona, not the session: open a fresh one.
  const persona = state.personas && sessionStorage.getItem(PERSONA_KEY);
  if (persona && !linked) return choosePersona(persona);
  if (state.token) return openSession();
  showGate(state.personas
    ? 'Pick a persona in “Acting as” to see the console as that person.'
    : 'This console needs a session from your application. Open it from there: the link carries a session token (…/console/#token=…).');
}

async function start() {
  // A fault no handler expected still reaches the person, not only the log.
  window.addEventListener('unhandledrejection', (e) => {
    announce(`Something went wrong: ${e.reason?.message ?? e.reason}. Reload the page to try again.`);
  });
  wireChrome();
  state.personas = await loadPersonas();
  if (state.personas) renderPersonaSwitcher();
  await boot();
}

start();
