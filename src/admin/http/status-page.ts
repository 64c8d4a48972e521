// The web status page: one self-contained HTML page that reads and drives the admin API from the browser.
import type { FastifyInstance } from 'fastify';

/**
 * The page holds no data and needs no token to load: its script asks for the token (kept in the
 * tab's sessionStorage) and calls the API with it, as the CLI does. Refreshes every 5 seconds.
 */
export function registerStatusPage(server: FastifyInstance): void {
  server.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));
}

const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Holdfast status</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2733; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1200px; padding: 1rem 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  #updated { color: #5b6773; font-size: .85rem; }
  table { width: 100%; border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0002; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e4e7eb; font-size: .9rem; vertical-align: top; }
  th { background: #eef1f4; font-weight: 600; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; padding: .1rem .5rem; border-radius: .8rem; font-weight: 600; font-size: .8rem; }
  .open { background: #d9f2e1; color: #14602e; } .held { background: #fdecc8; color: #7a4b00; }
  .releasing { background: #dbe9fb; color: #1b4f91; } .tripped, .guarded { background: #fbd9d9; color: #8a1414; }
  button { font: inherit; font-size: .85rem; padding: .2rem .7rem; cursor: pointer; }
  .detail { color: #47525e; font-size: .85rem; } #error { color: #8a1414; font-weight: 600; }
  form#login { background: #fff; padding: 1rem; box-shadow: 0 1px 2px #0002; max-width: 30rem; }
  input { font: inherit; padding: .25rem; width: 20rem; }
</style>
</head>
<body>
<h1>Holdfast</h1>
<div id="updated"></div>
<p id="error" role="alert"></p>
<form id="login" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="off"></label>
  <button type="submit">Open</button>
</form>
<section id="main" hidden>
  <h2>Mailstores</h2>
  <table id="stores">
    <thead><tr><th>Mailstore</th><th>State</th><th>Waiting</th><th>Deferred</th><th>Active</th><th>Oldest</th>
      <th>Expiring</th><th>Rate</th><th>ETA</th><th>Detail</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <h2>Recent events</h2>
  <table id="events"><thead><tr><th>Time</th><th>What</th><th>By</th><th>Why</th></tr></thead><tbody></tbody></table>
</section>
<script>
'use strict';
const tokenKey = 'holdfast-admin-token';
const $ = (selector) => document.querySelector(selector);
function age(seconds) {
  if (seconds === undefined || seconds === null) return '-';
  if (seconds < 60) return seconds + 's';
  if (seconds < 3600) return Math.floor(seconds / 60) + 'm';
  if (seconds < 86400) return Math.floor(seconds / 3600) + 'h';
  return Math.floor(seconds / 86400) + 'd' + (Math.floor((seconds % 86400) / 3600) || '') + (seconds % 86400 >= 3600 ? 'h' : '');
}
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}
async function api(method, path, body) {
  const headers = { 'content-type': 'application/json' };
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers.authorization = 'Bearer ' + token;
  const response = await fetch('/api/v1' + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401) { showLogin(); throw new Error('the admin token is needed'); }
  if (!response.ok) throw new Error(answer.message || response.statusText);
  return answer;
}
function showLogin() { $('#login').hidden = false; $('#main').hidden = true; }
function detailOf(store) {
  const state = store.state;
  const parts = [];
  if (state.kind === 'releasing') parts.push(state.rate + ' msgs/s, ' + state.concurrency + ' connections');
  if (state.reason) parts.push(state.reason + ' (by ' + state.by + ' since ' + new Date(state.since).toLocaleString() + ')');
  if (store.overrides && store.overrides.movedTo) parts.push('mail moved to ' + store.overrides.movedTo);
  for (const window of store.windows || []) {
    parts.push('window ' + new Date(window.from).toLocaleString() + ' to ' + new Date(window.until).toLocaleString());
  }
  return parts.join('; ');
}
async function act(store, action) {
  const reason = prompt((action === 'hold' ? 'Hold ' : 'Release ') + store + ': why?');
  if (reason === null) return;
  try {
    await api('POST', '/stores/' + encodeURIComponent(store) + '/' + action, { reason: reason || undefined, by: 'status page' });
    await refresh();
  } catch (error) { $('#error').textContent = error.message; }
}
function renderStores(stores) {
  const body = $('#stores tbody');
  body.replaceChildren();
  for (const store of stores) {
    const row = document.createElement('tr');
    row.dataset.store = store.mailstore;
    const badge = document.createElement('span');
    badge.className = 'state ' + store.state.kind;
    badge.textContent = store.state.kind;
    const stateCell = document.createElement('td');
    stateCell.append(badge);
    const rate = store.state.kind === 'releasing' ? store.state.rate + '/s' : '-';
    const eta = store.progress && Number.isFinite(store.progress.etaSeconds) ? age(store.progress.etaSeconds) : '-';
    row.append(cell(store.mailstore), stateCell, cell(store.counts.waiting, 'number'), cell(store.counts.delayed, 'number'),
      cell(store.counts.active, 'number'), cell(age(store.backlog.oldestAgeSeconds), 'number'),
      cell(store.backlog.expiringSoon, 'number'), cell(rate, 'number'), cell(eta, 'number'), cell(detailOf(store), 'detail'));
    const actions = document.createElement('td');
    const button = document.createElement('button');
    const stopped = ['held', 'tripped', 'guarded'].includes(store.state.kind);
    button.textContent = stopped ? 'Release' : 'Hold';
    button.addEventListener('click', () => act(store.mailstore, stopped ? 'release' : 'hold'));
    actions.append(button);
    row.append(actions);
    body.append(row);
  }
}
function renderEvents(entries) {
  const body = $('#events tbody');
  body.replaceChildren();
  for (const entry of entries) {
    const what = entry.filter !== undefined ? entry.action + ' ' + entry.count + ' (' + entry.filter + ')'
      : entry.from !== undefined && typeof entry.from === 'string' ? entry.mailstore + ': ' + entry.from + ' → ' + entry.to
      : entry.mailstore + ': ' + entry.action;
    const row = document.createElement('tr');
    row.append(cell(new Date(entry.at).toLocaleString()), cell(what), cell(entry.by), cell(entry.reason || ''));
    body.append(row);
  }
}
async function refresh() {
  try {
    const [stores, audit] = await Promise.all([api('GET', '/stores'), api('GET', '/audit?limit=15')]);
    renderStores(stores.stores);
    renderEvents(audit.entries);
    $('#main').hidden = false; $('#login').hidden = true; $('#error').textContent = '';
    $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString() + ', every 5 s';
  } catch (error) { if (!$('#login').hidden) return; $('#error').textContent = error.message; }
}
$('#login').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(tokenKey, $('#token').value);
  refresh();
});
refresh();
setInterval(refresh, 5000);
</script>
</body>
</html>
`;
