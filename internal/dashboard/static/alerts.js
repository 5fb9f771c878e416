// Alerts: what fires now and the recent transitions (GET /api/v1/alerts),
// and the alert rules (GET/POST /api/v1/alert-rules, PUT and DELETE
// /api/v1/alert-rules/{id}): their list, a form to create or edit one
// (the API's validation message next to the field it names; nothing is
// saved then), enable/disable and delete. Refreshed every 10 s.
import { api, APIError } from './api.js';
import { formFields } from './form.js';
import { h, clear, fmtPercent, fmtBytes, fmtTime, ago, errorBox } from './util.js';

const REFRESH_MS = 10000;

// METRICS: the words of each metric (label: in conditions; option: in the
// form) and its unit.
export const METRICS = {
  host_cpu_percent: { label: 'host CPU', option: 'Host CPU %', unit: '%' },
  host_memory_percent: { label: 'host memory', option: 'Host memory %', unit: '%' },
  container_cpu_percent: { label: 'container CPU', option: 'Container CPU %', unit: '%' },
  container_memory_percent: { label: 'container memory', option: 'Container memory, % of its limit', unit: '%', of: ' of its limit' },
  container_memory_host_percent: { label: 'container memory', option: 'Container memory, % of the host', unit: '%', of: ' of the host' },
  container_memory_bytes: { label: 'container memory', option: 'Container memory, bytes', unit: 'bytes' },
  container_restarts: { label: 'container restarts', option: 'Container restarts in a window', unit: 'restarts' },
};

const isContainerMetric = (m) => m.startsWith('container_');

// fmtValue formats a figure of metric in its unit.
export function fmtValue(metric, v) {
  const m = METRICS[metric];
  if (v === undefined || v === null) return '–';
  if (!m) return String(v);
  if (m.unit === '%') return fmtPercent(v);
  if (m.unit === 'bytes') return fmtBytes(v);
  return v + (v === 1 ? ' restart' : ' restarts');
}

// fmtLimit formats a threshold or recovery value as it was written.
function fmtLimit(metric, v) {
  const m = METRICS[metric];
  if (!m) return String(v);
  if (m.unit === '%') return v + ' %' + (m.of || '');
  if (m.unit === 'bytes') return fmtBytes(v);
  return String(v);
}

// fmtSpan is a duration in short words: 90 → "1m 30s", 3600 → "1h".
export function fmtSpan(seconds) {
  const parts = [];
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor(seconds / 60) % 60;
  const secs = seconds % 60;
  if (hours) parts.push(hours + 'h');
  if (minutes) parts.push(minutes + 'm');
  if (secs || parts.length === 0) parts.push(secs + 's');
  return parts.join(' ');
}

// condition is a rule (or an alert's rule as evaluated) in words:
// "container CPU > 50 % for 1m".
export function condition(r) {
  const m = METRICS[r.metric] || { label: r.metric || 'figure' };
  let s = `${m.label} ${r.op === 'below' ? '<' : '>'} ${fmtLimit(r.metric, r.threshold)}`;
  if (r.metric === 'container_restarts') s += ' in ' + fmtSpan(r.forSeconds);
  else if (r.forSeconds > 0) s += ' for ' + fmtSpan(r.forSeconds);
  if (r.recovery !== undefined && r.recovery !== null) s += ', recovers at ' + fmtLimit(r.metric, r.recovery);
  return s;
}

// The rule form's fields, in the order of AlertRuleRequest.
const fields = [
  { key: 'name', label: 'Name', type: 'text', placeholder: 'web CPU' },
  { key: 'environmentId', label: 'Environment', type: 'select', options: [] },
  { key: 'metric', label: 'Metric', type: 'select', options: Object.entries(METRICS).map(([k, m]) => [k, m.option]) },
  { key: 'op', label: 'Fires when the figure is', type: 'select', options: [['above', 'above the threshold'], ['below', 'below the threshold']] },
  { key: 'threshold', label: 'Threshold', type: 'number', step: 'any' },
  { key: 'forSeconds', label: 'For (s; 0: at once)', type: 'number' },
  { key: 'recovery', label: 'Recovery (optional)', type: 'number', step: 'any', hint: 'Resolves once back past it; default: the threshold' },
  { key: 'containerPattern', label: 'Container name pattern', type: 'text', placeholder: 'web-* (empty: every container)' },
  { key: 'labels', label: 'Container labels', type: 'textarea', placeholder: 'key=value, one per line' },
  { key: 'severity', label: 'Severity', type: 'select', options: ['info', 'warning', 'critical'] },
  { key: 'enabled', label: 'Enabled', type: 'checkbox' },
  { key: 'channels', label: 'Channels', type: 'select', multiple: true, options: [], hint: 'None selected: the subscriptions decide' },
];

// aliases: the words an API message names a field with.
const aliases = { environmentId: ['environment'], forSeconds: ['for'] };
// byCode: the field of an error code whose message names none.
const byCode = { name_taken: 'name', unknown_channel: 'channels', unknown_environment: 'environmentId' };

// ruleFieldOf finds the field an API message is about: the field named
// first ("recovery 5 is on the breaching side of threshold 10" is about
// recovery; "for is the window of container_restarts…" about forSeconds).
export function ruleFieldOf(err) {
  let best = null;
  let at = Infinity;
  for (const f of fields) {
    for (const word of [f.key, ...(aliases[f.key] || [])]) {
      const m = new RegExp('\\b' + word + '\\b').exec(err.message);
      if (m && m.index < at) { at = m.index; best = f.key; }
    }
  }
  return best || byCode[err.code] || null;
}

// ruleBody is the request of a stored rule (PUT takes the whole rule).
function ruleBody(r) {
  return {
    name: r.name, environmentId: r.environmentId, metric: r.metric, op: r.op, threshold: r.threshold, forSeconds: r.forSeconds,
    recovery: r.recovery, containerPattern: r.containerPattern, labels: r.labels || {}, severity: r.severity, enabled: r.enabled,
    channels: r.channels || [],
  };
}

export function renderAlerts(main) {
  let stopped = false;
  let timer = null;
  let rules = [];
  let envs = [];
  let editing = null; // the rule in the form, null: a new one
  const status = h('p', { className: 'muted', id: 'alerts-updated' });
  const firing = h('div', { id: 'firing' });
  const recent = h('div', { id: 'recent' });
  const list = h('div', { id: 'rules' });
  const formTitle = h('h3', { id: 'rule-form-title' }, 'New rule');
  const result = h('p', { id: 'rule-result', className: 'form-result', role: 'status' });
  const form = h('form', { id: 'rule-form', className: 'settings rule-form', noValidate: true });
  const { inputs, clearErrors, showError } = formFields(form, fields, 'rule-', 'rule-error-');
  const save = h('button', { type: 'submit', id: 'rule-save' }, 'Create rule');
  const cancel = h('button', { type: 'button', id: 'rule-cancel', onclick: () => reset() }, 'Cancel');
  form.append(h('div', { className: 'actions' }, save, ' ', cancel), result);
  main.append(h('div', { className: 'page-head' }, h('h1', {}, 'Alerts'), status),
    h('section', { className: 'card' }, h('h2', {}, 'Firing now'), firing),
    h('section', { className: 'card' }, h('h2', {}, 'Rules'), list, formTitle, form),
    h('section', { className: 'card' }, h('h2', {}, 'Recent transitions'), recent));
  inputs.metric.addEventListener('change', metricChanged);

  // metricChanged adapts the form to the metric: the container fields
  // only for container metrics, the duration as the restart window.
  function metricChanged() {
    const container = isContainerMetric(inputs.metric.value);
    inputs.containerPattern.disabled = !container;
    inputs.labels.disabled = !container;
    form.querySelector('label[for=rule-forSeconds]').textContent = inputs.metric.value === 'container_restarts'
      ? 'Window (s; at least 60)' : 'For (s; 0: at once)';
  }

  // reset empties the form for a new rule.
  function reset() {
    fill({ name: '', environmentId: null, metric: 'host_cpu_percent', op: 'above', threshold: '', forSeconds: 0, recovery: null,
      containerPattern: '', labels: {}, severity: 'warning', enabled: true, channels: [] }, null);
  }

  // fill puts rule in the form; editing is the stored rule or null.
  function fill(rule, stored) {
    editing = stored;
    clearErrors();
    result.className = 'form-result';
    result.textContent = '';
    formTitle.textContent = stored ? 'Edit rule ' + stored.name : 'New rule';
    save.textContent = stored ? 'Save rule' : 'Create rule';
    inputs.name.value = rule.name;
    inputs.environmentId.value = rule.environmentId || '';
    inputs.metric.value = rule.metric;
    inputs.op.value = rule.op;
    inputs.threshold.value = rule.threshold === '' ? '' : String(rule.threshold);
    inputs.forSeconds.value = String(rule.forSeconds);
    inputs.recovery.value = rule.recovery === null || rule.recovery === undefined ? '' : String(rule.recovery);
    inputs.containerPattern.value = rule.containerPattern || '';
    inputs.labels.value = Object.entries(rule.labels || {}).map(([k, v]) => k + '=' + v).join('\n');
    inputs.severity.value = rule.severity;
    inputs.enabled.checked = rule.enabled;
    for (const o of inputs.channels.options) o.selected = (rule.channels || []).includes(o.value);
    metricChanged();
    for (const tr of list.querySelectorAll('tr[data-rule]')) tr.classList.toggle('open', !!stored && tr.dataset.rule === stored.id);
  }

  // request reads the form; a field the page itself can judge throws
  // {field, message}. Numbers left empty are left out (the API says what
  // is missing), the container fields of a host metric too.
  function request() {
    const number = (el) => (el.value.trim() === '' ? undefined : Number(el.value));
    const body = {
      name: inputs.name.value.trim(), environmentId: inputs.environmentId.value || null, metric: inputs.metric.value, op: inputs.op.value,
      threshold: number(inputs.threshold), forSeconds: number(inputs.forSeconds), recovery: number(inputs.recovery) ?? null,
      severity: inputs.severity.value, enabled: inputs.enabled.checked,
      channels: [...inputs.channels.selectedOptions].map((o) => o.value),
    };
    if (isContainerMetric(body.metric)) {
      body.containerPattern = inputs.containerPattern.value.trim();
      body.labels = {};
      for (const line of inputs.labels.value.split('\n').map((l) => l.trim()).filter(Boolean)) {
        const eq = line.indexOf('=');
        if (eq <= 0) throw { field: 'labels', message: `labels: "${line}" is not key=value` };
        body.labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
      }
    }
    return body;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    result.className = 'form-result';
    let body;
    try {
      body = request();
    } catch (e) {
      showError(e.field, e.message);
      result.className = 'form-result error';
      result.textContent = 'Not saved.';
      return;
    }
    save.disabled = true;
    result.textContent = 'Saving…';
    try {
      const { data } = editing
        ? await api(`/alert-rules/${editing.id}`, { method: 'PUT', body })
        : await api('/alert-rules', { method: 'POST', body });
      reset();
      result.className = 'form-result ok';
      result.textContent = `Saved the rule ${data.name}.`;
      load();
    } catch (e) {
      result.className = 'form-result error';
      const key = e instanceof APIError ? ruleFieldOf(e) : null;
      if (key) {
        showError(key, e.message);
        result.textContent = 'Not saved.';
      } else {
        result.textContent = 'Not saved: ' + e.message;
      }
    } finally {
      save.disabled = false;
    }
  });

  // loadChoices fills the environment and channel options of the form.
  async function loadChoices() {
    try {
      const [envRes, chRes] = await Promise.all([api('/environments'), api('/notification-channels')]);
      if (stopped) return;
      envs = (envRes.data && (envRes.data.environments || envRes.data)) || [];
      const env = inputs.environmentId.value;
      clear(inputs.environmentId).append(h('option', { value: '' }, 'All environments'),
        ...envs.map((e) => h('option', { value: e.id }, e.name)));
      inputs.environmentId.value = env;
      const picked = new Set([...inputs.channels.selectedOptions].map((o) => o.value));
      const channels = (chRes.data && chRes.data.channels) || [];
      clear(inputs.channels).append(...channels.map((c) => h('option', { value: c.id, selected: picked.has(c.id) }, c.name)));
      inputs.channels.size = Math.min(Math.max(channels.length, 2), 6);
      drawRules();
    } catch (e) {
      if (!stopped) result.textContent = 'Environments and channels: ' + e.message;
    }
  }

  // load reads the alerts and the rules; the last load schedules the next.
  async function load() {
    try {
      const [alerts, rulesRes] = await Promise.all([api('/alerts?limit=100'), api('/alert-rules')]);
      if (stopped) return;
      rules = rulesRes.data.rules || [];
      drawFiring(alerts.data.firing || []);
      drawRecent(alerts.data.recent || []);
      drawRules();
      status.textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      if (!stopped) clear(firing).append(errorBox(e));
    }
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  function drawFiring(alerts) {
    clear(firing);
    if (alerts.length === 0) { firing.append(h('p', { className: 'empty' }, 'Nothing fires now.')); return; }
    const sorted = [...alerts].sort((a, b) => Date.parse(b.firedAt) - Date.parse(a.firedAt));
    firing.append(table('firing-table', ['Environment', 'Rule', 'Severity', 'Target', 'Value', 'Threshold', 'Since'],
      sorted.map((a) => h('tr', { 'data-rule': a.ruleId, 'data-env': a.environmentId, 'data-target': a.target },
        h('td', { 'data-label': 'Environment' }, h('a', { href: '#/env/' + a.environmentId }, a.environmentName)),
        h('td', { 'data-label': 'Rule', className: 'rule-name' }, a.ruleName),
        h('td', { 'data-label': 'Severity' }, severityBadge(a.severity)),
        h('td', { 'data-label': 'Target' }, a.target || h('span', { className: 'muted' }, 'host')),
        h('td', { 'data-label': 'Value', className: 'num value' }, fmtValue(a.metric, a.value)),
        h('td', { 'data-label': 'Threshold', className: 'condition' }, condition(a)),
        h('td', { 'data-label': 'Since', title: 'fired ' + fmtTime(a.firedAt) }, h('div', {}, fmtTime(a.since), h('div', { className: 'muted small' }, ago(a.since))))))));
  }

  function drawRecent(transitions) {
    clear(recent);
    if (transitions.length === 0) { recent.append(h('p', { className: 'empty' }, 'No alert yet.')); return; }
    recent.append(table('recent-table', ['At', 'Environment', 'Rule', 'Target', 'Phase', 'Value', 'Reason'],
      transitions.map((a) => h('tr', { 'data-transition': String(a.id) },
        h('td', { 'data-label': 'At' }, fmtTime(a.at)),
        h('td', { 'data-label': 'Environment' }, h('a', { href: '#/env/' + a.environmentId }, a.environmentName)),
        h('td', { 'data-label': 'Rule' }, h('div', {}, a.ruleName, h('div', { className: 'muted small' }, condition(a)))),
        h('td', { 'data-label': 'Target' }, a.target || h('span', { className: 'muted' }, 'host')),
        h('td', { 'data-label': 'Phase' }, h('span', { className: 'badge ' + a.phase }, a.phase)),
        h('td', { 'data-label': 'Value', className: 'num' }, fmtValue(a.metric, a.value)),
        h('td', { 'data-label': 'Reason' }, a.reason || '')))));
  }

  function drawRules() {
    clear(list);
    if (rules.length === 0) { list.append(h('p', { className: 'empty' }, 'No rule yet: add one below.')); return; }
    list.append(table('rules-table', ['Name', 'Scope', 'Condition', 'Severity', 'Enabled', ''], rules.map(ruleRow)));
  }

  function ruleRow(r) {
    const out = h('span', { className: 'muted small', role: 'status' });
    return h('tr', { 'data-rule': r.id, className: editing && editing.id === r.id ? 'open' : '' },
      h('td', { 'data-label': 'Name', className: 'rule-name' }, r.name),
      h('td', { 'data-label': 'Scope', className: 'scope' }, scope(r)),
      h('td', { 'data-label': 'Condition', className: 'condition' }, condition(r)),
      h('td', { 'data-label': 'Severity' }, severityBadge(r.severity)),
      h('td', { 'data-label': 'Enabled', className: 'enabled' }, r.enabled ? 'yes' : 'no'),
      h('td', { className: 'row-actions' },
        h('button', { type: 'button', className: 'edit', onclick: () => { fill(r, r); form.scrollIntoView({ block: 'nearest' }); } }, 'Edit'),
        h('button', {
          type: 'button', className: 'toggle',
          onclick: async () => {
            try {
              await api(`/alert-rules/${r.id}`, { method: 'PUT', body: { ...ruleBody(r), enabled: !r.enabled } });
              load();
            } catch (e) { out.textContent = e.message; }
          },
        }, r.enabled ? 'Disable' : 'Enable'),
        h('button', {
          type: 'button', className: 'danger delete',
          onclick: async () => {
            if (!confirm(`Delete the rule ${r.name}?`)) return;
            try {
              await api(`/alert-rules/${r.id}`, { method: 'DELETE' });
              if (editing && editing.id === r.id) reset();
              load();
            } catch (e) { out.textContent = e.message; }
          },
        }, 'Delete'), out));
  }

  // scope: where a rule applies, in words.
  function scope(r) {
    const env = r.environmentId ? (envs.find((e) => e.id === r.environmentId) || { name: r.environmentId.slice(0, 8) }).name : 'all environments';
    const parts = [env];
    if (isContainerMetric(r.metric)) {
      parts.push(r.containerPattern ? 'containers ' + r.containerPattern : 'every container');
      const labels = Object.entries(r.labels || {}).map(([k, v]) => k + '=' + v);
      if (labels.length) parts.push('labels ' + labels.join(', '));
    }
    return parts.join(' · ');
  }

  reset();
  loadChoices();
  load();
  return () => { stopped = true; clearTimeout(timer); };
}

function table(className, heads, rows) {
  return h('table', { className: 'grid ' + className },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows));
}

function severityBadge(severity) {
  return h('span', { className: 'badge severity sev-' + severity }, severity);
}
