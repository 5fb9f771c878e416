// The live event list of one environment: the last events from GET
// /environments/{id}/events, then every new one from the event stream
// (GET /api/v1/stream, Server-Sent Events), filtered by container and
// action in the page.
import { api, streamURL } from './api.js';
import { h, clear, fmtTime, errorBox } from './util.js';

const KEEP = 200;

export function renderEvents(section, envID) {
  let events = []; // newest first, at most KEEP
  const seen = new Set(); // the IDs of events, and of nothing else
  const containerFilter = h('input', { type: 'search', id: 'event-filter-container', placeholder: 'container name or ID', 'aria-label': 'Filter by container' });
  const actionFilter = h('select', { id: 'event-filter-action', 'aria-label': 'Filter by action' },
    ['', 'start', 'stop', 'die', 'kill', 'oom', 'restart', 'create', 'destroy', 'pause', 'unpause', 'health_status']
      .map((a) => h('option', { value: a }, a || 'every action')));
  const state = h('span', { className: 'muted small', id: 'event-stream-state' }, 'connecting…');
  const list = h('ol', { className: 'events', id: 'event-list', 'aria-live': 'polite' });
  section.append(h('div', { className: 'card-head' }, h('h2', {}, 'Events'), state),
    h('div', { className: 'filters' }, containerFilter, actionFilter), list);
  containerFilter.addEventListener('input', draw);
  actionFilter.addEventListener('change', draw);

  function matches(e) {
    const c = containerFilter.value.trim().toLowerCase();
    const a = actionFilter.value;
    if (c && !(e.containerName || '').toLowerCase().includes(c) && !(e.containerId || '').startsWith(c)) return false;
    if (a && e.action !== a && !(e.action || '').startsWith(a + ':')) return false;
    return true;
  }

  function item(e) {
    return h('li', { className: 'event action-' + (e.action || '').split(':')[0], 'data-event-id': String(e.id) },
      h('time', { dateTime: e.time }, fmtTime(e.time)),
      h('span', { className: 'action' }, e.action),
      h('span', { className: 'container' }, e.containerName || (e.containerId || '').slice(0, 12)),
      h('span', { className: 'muted small' }, e.image || ''),
      e.exitCode !== null && e.exitCode !== undefined ? h('span', { className: 'exit' }, 'exit ' + e.exitCode) : null);
  }

  function draw() {
    clear(list);
    const shown = events.filter(matches);
    if (shown.length === 0) list.append(h('li', { className: 'empty' }, 'No event yet.'));
    for (const e of shown) list.append(item(e));
  }

  const newerFirst = (a, b) => (b.timeNano - a.timeNano) || (b.id - a.id);

  function add(e, live) {
    if (seen.has(e.id)) return;
    // Older than every kept event of a full list: it would be dropped at once.
    if (events.length >= KEEP && newerFirst(e, events[events.length - 1]) > 0) return;
    seen.add(e.id);
    events.push(e);
    events.sort(newerFirst);
    if (events.length > KEEP) {
      for (const old of events.slice(KEEP)) seen.delete(old.id);
      events = events.slice(0, KEEP);
    }
    list.dataset.seen = String(seen.size); // for the tests: stays ≤ KEEP
    if (live && matches(e)) {
      const empty = list.querySelector('.empty');
      if (empty) empty.remove();
      const li = item(e);
      li.classList.add('new');
      const idx = events.filter(matches).indexOf(e);
      list.insertBefore(li, list.children[idx] || null);
      while (list.children.length > KEEP) list.lastChild.remove();
    }
  }

  let source = null;
  let stopped = false;
  (async () => {
    try {
      const { data } = await api(`/environments/${envID}/events?limit=50`);
      if (stopped) return;
      for (const e of data.events || []) add(e, false);
      draw();
    } catch (e) {
      if (!stopped) section.append(errorBox(e));
    }
    if (stopped) return;
    source = new EventSource(streamURL(envID));
    source.addEventListener('open', () => { state.textContent = 'live'; state.className = 'live-on small'; });
    source.addEventListener('error', () => { state.textContent = 'reconnecting…'; state.className = 'muted small'; });
    source.addEventListener('container_event', (m) => {
      try { add(JSON.parse(m.data), true); } catch { /* not an event */ }
    });
  })();
  return () => { stopped = true; if (source) source.close(); };
}
