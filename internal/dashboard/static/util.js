// DOM building without HTML strings (names and labels come from Docker
// engines: they are only ever set as text), and formatting.

// h creates an element: attrs are properties (className, href, …), "on…"
// listeners, or data-/aria- attributes; children are nodes or text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'for') el.setAttribute(k, v === true ? '' : String(v));
    else el[k] = v;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtPercent(v) {
  return v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(v < 10 ? 1 : 0) + ' %';
}

const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];

export function fmtBytes(v) {
  if (v === undefined || v === null) return '–';
  let i = 0;
  let n = Math.abs(v);
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (v < 0 ? '-' : '') + (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + (Math.floor(s / 60) % 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + (Math.floor(s / 3600) % 24) + ' h';
}

// ago is "12 s ago" for an ISO time (or "–").
export function ago(iso) {
  if (!iso) return '–';
  return fmtDuration((Date.now() - Date.parse(iso)) / 1000) + ' ago';
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// statusOf derives the badge of an environment: paused, online, offline or
// unknown, with the time it has been so.
export function statusOf(paused, status) {
  if (paused) return { label: 'paused', cls: 'paused' };
  if (!status) return { label: 'unknown', cls: 'unknown' };
  return { label: status.online ? 'online' : 'offline', cls: status.online ? 'online' : 'offline' };
}

export function badge(st, sinceISO, title) {
  return h('span', { className: 'badge ' + st.cls, title: title || '' }, st.label,
    sinceISO ? h('span', { className: 'since' }, ' for ' + fmtDuration((Date.now() - Date.parse(sinceISO)) / 1000)) : null);
}

export function errorBox(err) {
  return h('p', { className: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

// agentLine says how an agent-placed environment's agent is connected
// (null for other environments).
export function agentLine(agent) {
  if (!agent) return null;
  if (!agent.connected) return h('div', { className: 'muted small agent-state', 'data-agent': 'disconnected' }, 'agent not connected');
  const rtt = agent.rttMs != null ? ' · ' + agent.rttMs.toFixed(1) + ' ms' : '';
  return h('div', { className: 'muted small agent-state', 'data-agent': 'connected', title: 'Agent ' + (agent.version || '') },
    'agent connected ' + ago(agent.connectedSince) + rtt);
}
