// console_app.js: the web console's script: polls /ui/api/ every 2 s and draws the page with DOM
// calls only. Every text from the server goes in through textContent, never as HTML.
'use strict';
(function () {
  const POLL_MS = 2000;
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const state = { view: 'overview', offset: 0, page: null, letter: null, sources: [], pending: null, drawnRows: null };

  // An element with text and children; attrs are properties (className, dataset via data).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'data') Object.assign(e.dataset, v);
      else e[k] = v;
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }
  function status(text, ok) {
    $('status').textContent = text || '';
    $('status').className = ok ? 'ok' : '';
  }
  function seconds(s) {
    if (s === null || s === undefined) return 'never';
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(Math.floor(s % 60)).padStart(2, '0') + 's';
    return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
  }
  function rate(r) { return r === null || r === undefined ? '-' : r.toFixed(1) + '/s'; }
  function latency(s) {
    if (s === null || s === undefined) return '-';
    return s < 1 ? (s * 1000).toFixed(s < 0.01 ? 1 : 0) + ' ms' : s.toFixed(2) + ' s';
  }

  async function api(path) {
    const res = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
    const body = await res.json().catch(() => ({ error: 'HTTP ' + res.status }));
    if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
    return body;
  }
  async function post(path, body) {
    const token = $('token').value;
    const res = await fetch(path, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-Switchyard-Token': token },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({ error: 'HTTP ' + res.status }));
    if (!res.ok) throw new Error(answer.error || 'HTTP ' + res.status);
    return answer;
  }

  // ---------------------------------------------------------------- overview
  function chart(history) {
    const w = 600, h = 120, box = svg('svg', { viewBox: `0 0 ${w} ${h + 20}`, class: 'chart', role: 'img' });
    box.append(svg('line', { x1: 0, y1: h, x2: w, y2: h, class: 'axis' }));
    if (history.length === 0) {
      const t = svg('text', { x: 4, y: 14 }); t.textContent = 'no points yet (the daemon samples every 2 s)';
      box.append(t);
      return box;
    }
    const now = history[history.length - 1][0], from = now - 3600000;
    const maxB = Math.max(1, ...history.map((p) => p[1])), maxA = Math.max(1, ...history.map((p) => p[2] || 0));
    const x = (t) => ((t - from) / 3600000) * w;
    const line = (i, max) => history.map((p, n) => (n ? 'L' : 'M') + x(p[0]).toFixed(1) + ' ' + (h - ((p[i] || 0) / max) * (h - 8)).toFixed(1)).join(' ');
    box.append(svg('path', { d: line(1, maxB), class: 'backlog' }), svg('path', { d: line(2, maxA), class: 'age' }));
    const legend = svg('text', { x: 4, y: h + 15 });
    legend.textContent = `last hour — backlog (solid, max ${maxB}), oldest age (dashed, max ${seconds(maxA)})`;
    box.append(legend);
    return box;
  }
  // "1.2 s ago", with the absolute time (UTC) as its title; both times by Redis' clock.
  function ago(ms, now) {
    return el('time', { className: 'ago', dateTime: new Date(ms).toISOString(), title: new Date(ms).toISOString() },
      seconds(Math.max(0, now - ms) / 1000) + ' ago');
  }
  function drawOverview(o) {
    const root = $('sources');
    const cards = o.sources.map((s) => {
      const b = s.behind;
      const table = el('table', {},
        el('thead', {}, el('tr', {}, ...['pending', 'in flight', 'retrying', 'dead', 'oldest', 'in', 'out', 'drain ETA'].map((t) => el('th', {}, t)))),
        el('tbody', {}, el('tr', { data: { source: s.name } },
          el('td', { className: 'num pending' }, s.pending), el('td', { className: 'num inflight' }, s.inflight),
          el('td', { className: 'num retrying' }, s.retrying), el('td', { className: 'num dead' }, s.dead),
          el('td', { className: 'num age' }, b.reported ? seconds(b.oldest_age_seconds) : '?'),
          el('td', { className: 'num' }, b.reported ? rate(b.in_1m) : '?'),
          el('td', { className: 'num' }, b.reported ? rate(b.out_1m) : '?'),
          el('td', { className: 'num eta' }, b.reported ? seconds(b.drain_eta_seconds) : '?'))));
      const consumers = el('ul', { className: 'consumers' }, ...s.consumers.map((c) =>
        el('li', { data: { consumer: c.name } }, c.name + ': ' + c.inflight + ' in flight, ',
          c.alive && c.heartbeat_ms !== null && c.heartbeat_ms !== undefined
            ? el('span', { className: 'alive' }, 'alive, last heartbeat ', ago(c.heartbeat_ms, o.now_ms))
            : el('span', { className: 'silent' }, c.alive ? 'alive (holds the lease)' : 'silent: heartbeat expired, its messages are reclaimed after reclaim_after',
              ...(c.snapshot_ms === null || c.snapshot_ms === undefined ? [] : ['; last seen ', ago(c.snapshot_ms, o.now_ms)])))));
      const paused = el('p', { className: 'paused state' }, s.paused ? 'PAUSED since ' + s.paused + ' (switchyard resume ' + s.name + ')' : '');
      const pausedHandlers = Object.entries(s.paused_handlers).map(([h, since]) => el('p', { className: 'paused' }, 'handler ' + h + ' paused since ' + since));
      const alerts = Object.entries(s.alerts).map(([code, text]) => el('p', { className: 'dead' }, 'ALERT ' + code + ': ' + text));
      return el('div', { className: 'card source', data: { source: s.name } },
        el('h3', {}, s.name + ' ', el('small', {}, '(' + s.type + ' ' + s.key + ')')),
        paused, ...pausedHandlers, ...alerts, table, chart(s.history),
        el('p', {}, b.reported ? b.instances + ' instance(s) reporting' : 'no running instance reported in the last 10 s'), consumers);
    });
    root.replaceChildren(...cards);
  }

  // ---------------------------------------------------------------- routes
  // The routing table as a graph: patterns on the left, handlers on the right, a line for each
  // route; every label is SVG text (textContent), cut to fit, the whole text in its <title>.
  const ROW = 44, BOX = 36, LEFT_W = 360, RIGHT_X = 560, GRAPH_W = 920;
  function label(text, max) { return text.length > max ? text.slice(0, max - 1) + '…' : text; }
  function node(x, y, w, cls, data, title, line1, line2) {
    const g = svg('g', { class: 'node ' + cls, transform: `translate(${x},${y})` });
    Object.assign(g.dataset, data);
    const t = svg('title'); t.textContent = title;
    const name = svg('text', { x: 8, y: line2 ? 15 : 23, class: 'name' }); name.textContent = label(line1, 44);
    g.append(t, svg('rect', { width: w, height: BOX, rx: 4 }), name);
    if (line2) { const small = svg('text', { x: 8, y: 30, class: 'small' }); small.textContent = label(line2, 58); g.append(small); }
    return g;
  }
  function handlerLine(h) {
    return `${rate(h.ok_rate)} ok · ${rate(h.error_rate)} errors · p50 ${latency(h.p50_seconds)} · p99 ${latency(h.p99_seconds)}`;
  }
  function drawRoutes(r) {
    const handlers = r.handlers.map((h) => h.name);
    for (const route of r.routes) for (const h of route.handlers) if (!handlers.includes(h)) handlers.push(h);
    const byName = Object.fromEntries(r.handlers.map((h) => [h.name, h]));
    const rows = Math.max(r.routes.length + 1, handlers.length);
    const box = svg('svg', { viewBox: `0 0 ${GRAPH_W} ${rows * ROW}`, width: GRAPH_W, height: rows * ROW, class: 'routes', role: 'img' });
    const edges = svg('g', { class: 'edges' });
    box.append(edges);
    r.routes.forEach((route, i) => {
      const files = route.contracts.map((c) => c.event + ': ' + c.file);
      const line2 = route.contracts.length === 0 ? '' : route.contracts.length === 1
        ? 'contract ' + route.contracts[0].file.split('/').pop() : route.contracts.length + ' contracts';
      box.append(node(0, i * ROW, LEFT_W, 'pattern' + (files.length ? ' has-contract' : ''), { pattern: route.pattern },
        [route.pattern, ...files].join('\n'), route.pattern, line2));
      for (const h of route.handlers) {
        const y1 = i * ROW + BOX / 2, y2 = handlers.indexOf(h) * ROW + BOX / 2, mid = (LEFT_W + RIGHT_X) / 2;
        const edge = svg('path', { d: `M${LEFT_W} ${y1} C${mid} ${y1} ${mid} ${y2} ${RIGHT_X} ${y2}`, class: 'edge' });
        Object.assign(edge.dataset, { pattern: route.pattern, handler: h });
        edges.append(edge);
      }
    });
    box.append(node(0, r.routes.length * ROW, LEFT_W, 'unrouted', {}, 'events no pattern matches: ' + r.unrouted, '(no route)', 'unrouted: ' + r.unrouted));
    handlers.forEach((h, j) => {
      const view = byName[h];
      box.append(node(RIGHT_X, j * ROW, GRAPH_W - RIGHT_X, 'handler', { handler: h },
        h + (view ? ' (' + view.plugin + ')\n' + handlerLine(view) : ''), h, view ? handlerLine(view) : ''));
    });
    $('route-graph').replaceChildren(box);
    $('handler-rows').replaceChildren(...r.handlers.map((h) => el('tr', { data: { handler: h.name } },
      el('td', {}, h.name), el('td', {}, h.plugin), el('td', { className: 'num' }, rate(h.ok_rate)),
      el('td', { className: 'num' }, rate(h.error_rate)), el('td', { className: 'num' }, latency(h.p50_seconds)),
      el('td', { className: 'num' }, latency(h.p99_seconds)))));
    $('contract-rows').replaceChildren(...r.contracts.map((c) => el('tr', { data: { event: c.event } },
      el('td', {}, c.event), el('td', {}, el('code', {}, c.file)),
      el('td', {}, c.patterns.length ? c.patterns.join(', ') : '(no route: ' + r.unrouted + ')'))));
    $('no-contracts').hidden = r.contracts.length > 0;
  }

  // ---------------------------------------------------------------- dead letters
  function filters() {
    const f = {};
    for (const k of ['event', 'handler', 'reason', 'since', 'before']) if ($('f-' + k).value) f[k] = $('f-' + k).value;
    return f;
  }
  function deadQuery() {
    const q = new URLSearchParams({ source: $('f-source').value, offset: state.offset, limit: PAGE, ...filters() });
    return '/ui/api/dead?' + q.toString();
  }
  function drawDead(p) {
    state.page = p;
    const first = p.letters.length ? state.offset + 1 : 0;
    const of = p.complete ? String(p.matched) : 'at least ' + p.matched;
    $('page-info').textContent = `${first}–${state.offset + p.letters.length} of ${of} (${p.total} in ${p.key})`;
    $('prev').disabled = state.offset === 0;
    $('next').disabled = !p.more;
    // Polling redraws the rows only when they changed: a row being clicked or selected stays put.
    const rows = JSON.stringify(p.letters);
    if (rows === state.drawnRows) return;
    state.drawnRows = rows;
    $('dead-rows').replaceChildren(...p.letters.map((l) => {
      const row = el('tr', { data: { id: l.id, at: l.at } },
        el('td', {}, el('code', {}, l.id)), el('td', {}, l.failed_at || ''), el('td', { className: 'event' }, l.event === null || l.event === undefined ? '?' : l.event),
        el('td', {}, l.handler === null || l.handler === undefined ? '(before routing)' : l.handler),
        el('td', { className: 'num' }, l.attempts === undefined ? '' : l.attempts), el('td', { className: 'reason' }, l.reason || l.unreadable || ''));
      row.addEventListener('click', () => openLetter(l.id, l.at));
      return row;
    }));
  }
  async function openLetter(id, at) {
    try {
      const l = await api('/ui/api/letter?' + new URLSearchParams({ source: $('f-source').value, id, at }).toString());
      state.letter = l;
      $('letter-id').textContent = l.id;
      const fields = [['failed at', l.failed_at], ['source', l.source], ['handler', l.handler === null ? '(failed before routing)' : l.handler],
        ['event', l.event], ['attempts', l.attempts], ['reason', l.reason || l.unreadable], ['instance', l.instance]];
      $('letter-fields').replaceChildren(...fields.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v === undefined || v === null ? '' : v)]));
      $('letter-message').textContent = l.message;
      $('replay-one').disabled = l.replayable === false;
      $('letter').hidden = false;
    } catch (e) { status(e.message); }
  }
  async function act(action, body, what) {
    try {
      const r = await post('/ui/api/' + action, body);
      status(action === 'purge' ? `purged ${r.purged} ${what}` :
        `replayed ${r.replayed} ${what}` + (r.refused ? `, refused ${r.refused}: ${r.refusals.join('; ')}` : '') + (r.gone ? `, ${r.gone} gone meanwhile` : ''), true);
      $('letter').hidden = true;
      refresh();
    } catch (e) { status(action + ' refused: ' + e.message); }
  }
  function confirmMatching(action) {
    const p = state.page;
    if (!p) return;
    if (!p.complete) { status('narrow the filter first: the count is not exact (too many letters scanned)'); return; }
    state.pending = { action, expect: p.matched, filter: filters(), source: $('f-source').value };
    $('confirm-text').textContent = `${action === 'purge' ? 'Purge' : 'Replay'} ${p.matched} dead letter(s) matching the filter in ${p.key}?`;
    $('confirm').hidden = false;
  }

  // ---------------------------------------------------------------- polling
  async function refresh() {
    try {
      if (state.view === 'overview') {
        const o = await api('/ui/api/overview');
        state.sources = o.sources.map((s) => s.name);
        drawOverview(o);
      } else if (state.view === 'routes') {
        drawRoutes(await api('/ui/api/routes'));
      } else {
        if ($('f-source').options.length === 0) {
          const o = await api('/ui/api/overview');
          $('f-source').replaceChildren(...o.sources.map((s) => el('option', { value: s.name }, s.name)));
        }
        drawDead(await api(deadQuery()));
      }
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      if ($('status').className !== 'ok') status('');
    } catch (e) { status('cannot read: ' + e.message); }
  }
  function show() {
    state.view = (location.hash || '#overview').slice(1);
    if (!['overview', 'routes', 'dead'].includes(state.view)) state.view = 'overview';
    for (const v of ['overview', 'routes', 'dead']) {
      $('view-' + v).hidden = v !== state.view;
      $('nav-' + v).classList.toggle('active', v === state.view);
    }
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('token').value = sessionStorage.getItem('switchyard-token') || '';
    $('token').addEventListener('change', () => sessionStorage.setItem('switchyard-token', $('token').value));
    $('filters').addEventListener('submit', (e) => { e.preventDefault(); state.offset = 0; refresh(); });
    $('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
    $('next').addEventListener('click', () => { state.offset += PAGE; refresh(); });
    $('close-letter').addEventListener('click', () => { $('letter').hidden = true; });
    $('replay-one').addEventListener('click', () => act('replay', { source: $('f-source').value, ids: [state.letter.id] }, 'dead letter ' + state.letter.id));
    $('purge-one').addEventListener('click', () => act('purge', { source: $('f-source').value, ids: [state.letter.id] }, 'dead letter ' + state.letter.id));
    $('replay-all').addEventListener('click', () => confirmMatching('replay'));
    $('purge-all').addEventListener('click', () => confirmMatching('purge'));
    $('confirm-no').addEventListener('click', () => { $('confirm').hidden = true; state.pending = null; });
    $('confirm-yes').addEventListener('click', () => {
      const p = state.pending;
      $('confirm').hidden = true;
      if (p) act(p.action, { source: p.source, filter: p.filter, expect: p.expect }, 'dead letter(s)');
    });
    window.addEventListener('hashchange', show);
    show();
    setInterval(refresh, POLL_MS);
  });
})();
