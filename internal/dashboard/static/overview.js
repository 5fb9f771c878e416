// Overview: every environment with its status, CPU and memory now and over
// the last hour, containers, disk, the age of its last cycle, its event
// mode and its workflow. One request (GET /api/v1/overview) every 10 s.
import { api } from './api.js';
import { sparkline } from './charts.js';
import { h, clear, fmtPercent, fmtBytes, ago, statusOf, badge, errorBox } from './util.js';

const REFRESH_MS = 10000;

export function renderOverview(main) {
  const status = h('p', { className: 'muted', id: 'overview-updated' });
  const body = h('div', { id: 'overview' });
  main.append(h('div', { className: 'page-head' }, h('h1', {}, 'Environments'), status), body);
  let stopped = false;
  let timer = null;
  async function load() {
    try {
      const { data } = await api('/overview');
      if (stopped) return;
      clear(body).append(table(data.environments || []));
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

function table(envs) {
  if (envs.length === 0) {
    return h('p', { className: 'empty' }, 'No environment yet. Add one with POST /api/v1/environments (see the README).');
  }
  const head = h('tr', {}, ['Environment', 'Status', 'CPU', 'Memory', 'Containers', 'Disk', 'Last cycle', 'Events', 'Workflow']
    .map((t) => h('th', { scope: 'col' }, t)));
  const rows = envs.map(row);
  return h('table', { className: 'grid overview' }, h('thead', {}, head), h('tbody', {}, rows));
}

function row(env) {
  const st = statusOf(env.paused, env.status);
  const points = (env.sparkline && env.sparkline.points) || [];
  const cpu = points.map((p) => p.cpuPercent);
  const mem = points.map((p) => p.memoryPercent);
  const latest = env.latest;
  const events = env.eventsEnabled ? env.eventMode : 'off';
  return h('tr', { 'data-env': env.id },
    h('td', { 'data-label': 'Environment' }, h('a', { href: '#/env/' + env.id, className: 'env-name' }, env.name),
      h('div', { className: 'muted small' }, env.endpoint)),
    h('td', { 'data-label': 'Status' }, badge(st, env.status && env.status.since, env.status && env.status.error)),
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
