// One environment: header, host and disk charts over a chosen range, the
// containers with a sparkline each and a chart on click, the live event
// list and the settings form.
import { api, APIError } from './api.js';
import { timeChart } from './charts.js';
import { renderContainers } from './containers.js';
import { renderEvents } from './events.js';
import { renderSettings } from './settings.js';
import { h, clear, fmtPercent, fmtBytes, fmtTime, ago, statusOf, badge, errorBox, agentLine } from './util.js';

export const RANGES = [
  { key: '1h', seconds: 3600 },
  { key: '6h', seconds: 6 * 3600 },
  { key: '24h', seconds: 86400 },
  { key: '7d', seconds: 7 * 86400 },
  { key: '30d', seconds: 30 * 86400 },
];

// seriesQuery is the from/to/step of a chart over range (about 300 points,
// never finer than 10 s).
export function seriesQuery(range) {
  const to = Math.floor(Date.now() / 1000);
  const step = Math.max(10, Math.round(range.seconds / 300));
  return `from=${to - range.seconds}&to=${to + 1}&step=${step}s`;
}

const toSec = (iso) => Date.parse(iso) / 1000;

export function renderEnvironment(main, id) {
  const cleanups = [];
  let stopped = false;
  const head = h('div', { className: 'page-head env-head' }, h('h1', {}, 'Environment'));
  const rangeBar = h('div', { className: 'ranges', role: 'group', 'aria-label': 'Chart range' });
  const hostChart = h('div', { className: 'chart', id: 'host-chart' });
  const hostNote = h('p', { className: 'muted small', id: 'host-note' });
  const diskChart = h('div', { className: 'chart', id: 'disk-chart' });
  const diskNote = h('p', { className: 'muted small', id: 'disk-note' });
  const containers = h('section', { id: 'containers' });
  const events = h('section', { id: 'events' });
  const settings = h('section', { id: 'settings' });
  main.append(head,
    h('section', { className: 'card' }, h('div', { className: 'card-head' }, h('h2', {}, 'Host CPU and memory'), rangeBar), hostChart, hostNote),
    h('section', { className: 'card' }, h('h2', {}, 'Disk usage'), diskChart, diskNote),
    h('div', { className: 'two-col' }, h('div', { className: 'card' }, containers), h('div', { className: 'card' }, events)),
    h('div', { className: 'card' }, settings));

  let range = RANGES.find((r) => r.key === (sessionStorage.getItem('windflow.range') || '1h')) || RANGES[0];
  let charts = [];
  for (const r of RANGES) {
    rangeBar.append(h('button', {
      type: 'button', className: 'range' + (r === range ? ' active' : ''), 'data-range': r.key,
      onclick: (ev) => {
        range = r;
        sessionStorage.setItem('windflow.range', r.key);
        for (const b of rangeBar.children) b.classList.toggle('active', b === ev.currentTarget);
        drawCharts();
        containersView.setRange(r);
      },
    }, r.key));
  }

  const containersView = renderContainers(containers, id, range);
  cleanups.push(containersView.destroy);
  cleanups.push(renderEvents(events, id));

  async function loadHead() {
    try {
      const [envRes, statusRes] = await Promise.all([
        api(`/environments/${id}`),
        api(`/environments/${id}/status`).catch((e) => ({ error: e })),
      ]);
      if (stopped) return;
      const env = envRes.data;
      const stored = statusRes.data && statusRes.data.stored;
      const live = statusRes.data && statusRes.data.live;
      const st = statusOf(env.settings.paused, stored ? { online: stored.online } : null);
      clear(head).append(
        h('div', {}, h('h1', { id: 'env-name' }, env.name), h('div', { className: 'muted small' }, env.endpoint),
          agentLine(statusRes.data && statusRes.data.agent)),
        h('div', { className: 'head-facts' },
          badge(st, stored && stored.changedAt, stored && stored.error),
          live && live.lastCycleAt ? h('span', { className: 'muted' }, 'last cycle ' + ago(live.lastCycleAt)) : null,
          env.workflowUrl ? h('a', { href: env.workflowUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Workflow in Temporal ↗') : null));
      if (!settings.dataset.ready) {
        settings.dataset.ready = '1';
        renderSettings(settings, env, envRes.response.headers.get('ETag'), loadHead);
      }
    } catch (e) {
      if (e instanceof APIError && e.status === 404) {
        clear(main).append(h('h1', {}, 'Environment not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the overview')));
        stopped = true;
        return;
      }
      clear(head).append(errorBox(e));
    }
  }

  async function drawCharts() {
    for (const c of charts) c.destroy();
    charts = [];
    const q = seriesQuery(range);
    const now = Math.floor(Date.now() / 1000);
    const from = now - range.seconds;
    const x = { min: from, max: now };
    try {
      const [host, disk, gaps, history] = await Promise.all([
        api(`/environments/${id}/metrics?${q}`),
        api(`/environments/${id}/disk?${q}`),
        api(`/environments/${id}/events/gaps?limit=500`).catch(() => ({ data: { gaps: [] } })),
        api(`/environments/${id}/status/history?limit=500`).catch(() => ({ data: { changes: [] } })),
      ]);
      if (stopped) return;
      const bands = offlineBands(history.data.changes || [], from)
        .concat((gaps.data.gaps || []).map((g) => ({ from: toSec(g.from), to: Math.max(toSec(g.to), toSec(g.from) + 1), color: 'rgba(243,167,18,0.25)', label: 'event gap' })));
      const pts = host.data.points || [];
      clear(hostChart);
      charts.push(timeChart(hostChart, {
        times: pts.map((p) => toSec(p.time)),
        series: [
          { label: 'CPU %', values: pts.map((p) => p.cpuPercent) },
          { label: 'Memory %', values: pts.map((p) => p.memoryPercent), color: '#17a398' },
        ],
        bands, x, y: { min: 0, max: 100, fmt: (v) => (v === null || v === undefined ? '–' : v.toFixed(1) + ' %') },
      }));
      hostNote.textContent = `${pts.length} points, ${host.data.resolution || 'raw'} data, step ${host.data.stepSeconds} s` +
        (bands.length ? ' — shaded: offline (red), event gaps (amber)' : '');
      drawDisk(disk.data, x);
    } catch (e) {
      clear(hostChart).append(errorBox(e));
    }
  }

  function drawDisk(d, x) {
    const pts = d.points || [];
    clear(diskChart);
    const lines = [];
    const th = d.threshold || { mode: 'off' };
    if (th.mode === 'percent') lines.push({ value: th.percent, label: 'threshold' });
    if (th.mode === 'bytes' && d.capacityBytes) lines.push({ value: (100 * th.bytes) / d.capacityBytes, label: 'threshold' });
    charts.push(timeChart(diskChart, {
      times: pts.map((p) => toSec(p.time)),
      series: [{ label: 'Disk used %', values: pts.map((p) => p.percent), color: '#a05eb5' }],
      lines, x, y: { min: 0, max: 100, fmt: (v) => (v === null || v === undefined ? '–' : v.toFixed(1) + ' %') }, height: 160,
    }));
    diskChart.dataset.threshold = lines.length ? String(lines[0].value) : '';
    const last = pts[pts.length - 1];
    diskNote.textContent = last
      ? `Now ${fmtPercent(last.percent)} (${fmtBytes(last.totalBytes)} of ${fmtBytes(last.capacityBytes)}), ` +
        (th.mode === 'off' ? 'no threshold' : 'threshold ' + (th.mode === 'percent' ? th.percent + ' %' : fmtBytes(th.bytes))) + ` — checked ${fmtTime(last.time)}`
      : 'No disk check in this range yet.';
  }

  loadHead();
  drawCharts();
  const timer = setInterval(() => { loadHead(); drawCharts(); }, 30000);
  return () => {
    stopped = true;
    clearInterval(timer);
    for (const c of charts) c.destroy();
    for (const f of cleanups) f();
  };
}

// offlineBands turns status changes (newest first) into offline spans.
function offlineBands(changes, from) {
  const asc = [...changes].sort((a, b) => Date.parse(a.changedAt) - Date.parse(b.changedAt));
  const bands = [];
  let offlineSince = null;
  for (const c of asc) {
    const t = toSec(c.changedAt);
    if (!c.online && offlineSince === null) offlineSince = t;
    if (c.online && offlineSince !== null) {
      if (t > from) bands.push({ from: offlineSince, to: t, color: 'rgba(228,87,46,0.18)', label: 'offline' });
      offlineSince = null;
    }
  }
  if (offlineSince !== null) bands.push({ from: offlineSince, to: Date.now() / 1000, color: 'rgba(228,87,46,0.18)', label: 'offline' });
  return bands;
}
