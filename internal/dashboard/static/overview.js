// Overview: every environment with its status, CPU and memory now and over
// the last hour, containers, disk, the age of its last cycle, its event
// mode and its workflow, and how many alerts fire in it. Two requests
// every 10 s: GET /api/v1/overview and GET /api/v1/alerts (for all
// environments at once).
import { api } from './api.js';
import { sparkline } from './charts.js';
import { h, clear, fmtPercent, fmtBytes, ago, statusOf, badge, errorBox, agentLine } from './util.js';

const REFRESH_MS = 10000;

export function renderOverview(main) {
  const status = h('p', { className: 'muted', id: 'overview-updated' });
  const body = h('div', { id: 'overview' });
  main.append(h('div', { className: 'page-head' }, h('h1', {}, 'Environments'), status), body);
  let stopped = false;
  let timer = null;
  async function load() {
    try {
      const [{ data }, alerts] = await Promise.all([api('/overview'), api('/alerts?limit=500').catch(() => null)]);
      if (stopped) return;
      clear(body).append(table(data.environments || [], firingCounts(alerts)));
      // For the benchmark of the first render (api: BenchmarkDashboardOverview100).
      if (performance.getEntriesByName('windflow-overview-rendered').length === 0) performance.mark('windflow-overview-rendered');
      status.textContent = 'Updated ' + new Date(data.generatedAt || Date.now()).toLocaleTimeString();
    } catch (e) {
      if (!stopped) clear(body).append(errorBox(e));
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

// firingCounts counts the firing alerts of each environment (by ID) in an
// answer of GET /alerts; none when it failed (the page works without).
function firingCounts(alerts) {
  const counts = new Map();
  for (const a of (alerts && alerts.data.firing) || []) counts.set(a.environmentId, (counts.get(a.environmentId) || 0) + 1);
  return counts;
}

function table(envs, firing) {
  if (envs.length === 0) {
    return h('p', { className: 'empty' }, 'No environment yet. Add one with POST /api/v1/environments (see the README).');
  }
  const head = h('tr', {}, ['Environment', 'Status', 'CPU', 'Memory', 'Containers', 'Disk', 'Last cycle', 'Events', 'Workflow']
    .map((t) => h('th', { scope: 'col' }, t)));
  const rows = envs.map((env) => row(env, firing.get(env.id) || 0));
  return h('table', { className: 'grid overview' }, h('thead', {}, head), h('tbody', {}, rows));
}

function row(env, firing) {
  const st = statusOf(env.paused, env.status);
  const points = (env.sparkline && env.sparkline.points) || [];
  const cpu = points.map((p) => p.cpuPercent);
  const mem = points.map((p) => p.memoryPercent);
  const latest = env.latest;
  const events = env.eventsEnabled ? env.eventMode : 'off';
  return h('tr', { 'data-env': env.id },
    h('td', { 'data-label': 'Environment' }, h('a', { href: '#/env/' + env.id, className: 'env-name' }, env.name),
      h('div', { className: 'muted small' }, env.endpoint), agentLine(env.agent)),
    h('td', { 'data-label': 'Status' }, h('span', {}, badge(st, env.status && env.status.since, env.status && env.status.error),
      firing ? h('a', { href: '#/alerts', className: 'badge firing alert-count', 'data-firing': firing, title: 'Alerts firing now' },
        firing + (firing === 1 ? ' alert' : ' alerts')) : null)),
    h('td', { 'data-label': 'CPU', className: 'num' }, h('span', { className: 'cpu-now' }, latest ? fmtPercent(latest.cpuPercent) : '–'),
      sparkline(cpu, { label: 'CPU, last hour', max: 100 })),
    h('td', { 'data-label': 'Memory', className: 'num' }, h('span', { className: 'mem-now' }, latest ? fmtPercent(latest.memoryPercent) : '–'),
      sparkline(mem, { label: 'Memory, last hour', max: 100, color: '#17a398' })),
    h('td', { 'data-label': 'Containers', className: 'num containers' }, latest ? String(latest.containersRunning) + (latest.containersTotal !== undefined ? ' / ' + latest.containersTotal : '') : '–'),
    h('td', { 'data-label': 'Disk', className: 'num' }, env.disk ? fmtPercent(env.disk.percent) : '–',
      env.disk ? h('div', { className: 'muted small' }, fmtBytes(env.disk.totalBytes)) : null),
    h('td', { 'data-label': 'Last cycle', className: 'last-cycle' }, ago(env.lastCycleAt)),
    h('td', { 'data-label': 'Events' }, events),
    h('td', { 'data-label': 'Workflow' }, env.workflowUrl
      ? h('a', { href: env.workflowUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Temporal ↗')
      : h('span', { className: 'muted small' }, env.workflowId)));
}
