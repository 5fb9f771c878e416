// The containers of one environment: the latest cycle's figures in a
// sortable table, a sparkline of the last hour each, and a chart of the
// chosen range when a row is clicked.
import { api } from './api.js';
import { sparkline, timeChart } from './charts.js';
import { h, clear, fmtPercent, fmtBytes, errorBox } from './util.js';

const REFRESH_MS = 30000;
const SPARK_CONCURRENCY = 4;

const columns = [
  { key: 'containerName', label: 'Container', num: false },
  { key: 'cpuPercent', label: 'CPU', num: true, fmt: fmtPercent },
  { key: 'memoryUsed', label: 'Memory', num: true, fmt: (v, r) => fmtBytes(v) + (r.memoryLimit ? ' / ' + fmtBytes(r.memoryLimit) : '') },
  { key: 'netRx', label: 'Net in / out', num: true, fmt: (v, r) => fmtBytes(v) + ' / ' + fmtBytes(r.netTx) },
  { key: 'blockRead', label: 'Block read / write', num: true, fmt: (v, r) => fmtBytes(v) + ' / ' + fmtBytes(r.blockWrite) },
];

export function renderContainers(section, envID, initialRange) {
  let range = initialRange;
  let rows = [];
  let sort = { key: sessionStorage.getItem('windflow.sort') || 'cpuPercent', desc: sessionStorage.getItem('windflow.sortAsc') !== '1' };
  let open = null; // container ID whose chart is shown
  let openChart = null;
  let stopped = false;
  const sparks = new Map(); // container ID -> canvas
  const body = h('div', {});
  section.append(h('h2', {}, 'Containers'), body);

  async function load() {
    try {
      const { data } = await api(`/environments/${envID}/containers/metrics`);
      if (stopped) return;
      rows = data.containers || [];
      draw();
      loadSparks();
    } catch (e) {
      if (!stopped) clear(body).append(errorBox(e));
    }
  }

  function draw() {
    if (openChart) { openChart.destroy(); openChart = null; }
    clear(body);
    if (rows.length === 0) {
      body.append(h('p', { className: 'empty' }, 'No container in the last cycle.'));
      return;
    }
    const sorted = [...rows].sort((a, b) => {
      const x = a[sort.key];
      const y = b[sort.key];
      const c = typeof x === 'string' ? x.localeCompare(y) : (x || 0) - (y || 0);
      return sort.desc ? -c : c;
    });
    const head = h('tr', {}, columns.map((c) => h('th', {
      scope: 'col', className: (c.num ? 'num ' : '') + 'sortable' + (sort.key === c.key ? (sort.desc ? ' desc' : ' asc') : ''),
      'data-sort': c.key, 'aria-sort': sort.key === c.key ? (sort.desc ? 'descending' : 'ascending') : 'none',
      onclick: () => {
        sort = { key: c.key, desc: sort.key === c.key ? !sort.desc : c.num };
        sessionStorage.setItem('windflow.sort', sort.key);
        sessionStorage.setItem('windflow.sortAsc', sort.desc ? '0' : '1');
        draw();
      },
    }, c.label)), h('th', { scope: 'col' }, 'CPU, last hour'));
    const tbody = h('tbody', {});
    for (const r of sorted) {
      const tr = h('tr', {
        className: 'clickable' + (open === r.containerId ? ' open' : ''), 'data-container': r.containerId, tabIndex: 0,
        title: 'Show its chart', onclick: () => toggle(r), onkeydown: (ev) => { if (ev.key === 'Enter') toggle(r); },
      }, columns.map((c) => h('td', { className: c.num ? 'num' : 'name', 'data-label': c.label }, c.fmt ? c.fmt(r[c.key], r) : r[c.key])),
      h('td', { className: 'spark-cell' }, sparks.get(r.containerId) || ''));
      tbody.append(tr);
      if (open === r.containerId) {
        const cell = h('td', { colSpan: columns.length + 1 });
        tbody.append(h('tr', { className: 'detail' }, cell));
        showChart(cell, r);
      }
    }
    body.append(h('table', { className: 'grid containers-table' }, h('thead', {}, head), tbody));
  }

  function toggle(r) {
    open = open === r.containerId ? null : r.containerId;
    draw();
  }

  async function showChart(cell, r) {
    const cpuEl = h('div', { className: 'chart', 'data-chart': 'container-cpu' });
    const memEl = h('div', { className: 'chart', 'data-chart': 'container-memory' });
    cell.append(h('h3', {}, r.containerName + ' — ' + range.key), cpuEl, memEl);
    try {
      const to = Math.floor(Date.now() / 1000);
      const step = Math.max(10, Math.round(range.seconds / 300));
      const { data } = await api(`/environments/${envID}/containers/${encodeURIComponent(r.containerId)}/metrics?from=${to - range.seconds}&to=${to + 1}&step=${step}s`);
      if (stopped || open !== r.containerId || !cell.isConnected) return;
      const pts = data.points || [];
      const times = pts.map((p) => Date.parse(p.time) / 1000);
      const x = { min: to - range.seconds, max: to };
      const a = timeChart(cpuEl, { times, x, series: [{ label: 'CPU %', values: pts.map((p) => p.cpuPercent) }], y: { min: 0, fmt: (v) => (v == null ? '–' : v.toFixed(1) + ' %') }, height: 160 });
      const b = timeChart(memEl, { times, x, series: [{ label: 'Memory', values: pts.map((p) => p.memoryUsed), color: '#17a398' }], y: { min: 0, fmt: fmtBytes }, height: 160 });
      openChart = { destroy: () => { a.destroy(); b.destroy(); } };
    } catch (e) {
      cell.append(errorBox(e));
    }
  }

  // Sparklines of the last hour, a few requests at a time.
  async function loadSparks() {
    const todo = rows.map((r) => r.containerId);
    const to = Math.floor(Date.now() / 1000);
    async function worker() {
      for (let id = todo.shift(); id !== undefined && !stopped; id = todo.shift()) {
        try {
          const { data } = await api(`/environments/${envID}/containers/${encodeURIComponent(id)}/metrics?from=${to - 3600}&to=${to + 1}&step=60s`);
          const c = sparkline((data.points || []).map((p) => p.cpuPercent), { label: 'CPU, last hour' });
          sparks.set(id, c);
          const cell = body.querySelector(`tr[data-container="${CSS.escape(id)}"] .spark-cell`);
          if (cell) clear(cell).append(c);
        } catch { /* a missing sparkline is not worth an error */ }
      }
    }
    await Promise.all(Array.from({ length: SPARK_CONCURRENCY }, worker));
  }

  load();
  const timer = setInterval(load, REFRESH_MS);
  return {
    setRange(r) { range = r; if (open) draw(); },
    destroy() { stopped = true; clearInterval(timer); if (openChart) openChart.destroy(); },
  };
}
