// The settings form of one environment: PUT /environments/{id}/settings
// with the changed fields and If-Match (the API stores them, then applies
// them with the workflow's configure Update). The API's validation message
// is shown next to the field it names; nothing changes then.
import { api, APIError } from './api.js';
import { h, clear } from './util.js';
import { formFields } from './form.js';

const fields = [
  { key: 'metricsIntervalSeconds', label: 'Metrics interval (s)', type: 'number' },
  { key: 'collectMetrics', label: 'Collect metrics', type: 'checkbox' },
  { key: 'paused', label: 'Paused', type: 'checkbox' },
  { key: 'offlineAfter', label: 'Offline after (failed checks)', type: 'number' },
  { key: 'eventsEnabled', label: 'Collect events', type: 'checkbox' },
  { key: 'eventMode', label: 'Event mode', type: 'select', options: ['stream', 'poll'] },
  { key: 'pollIntervalSeconds', label: 'Poll interval (s)', type: 'number' },
  { key: 'diskIntervalSeconds', label: 'Disk check interval (s)', type: 'number' },
  { key: 'diskTimeoutSeconds', label: 'Disk check timeout (s)', type: 'number' },
  { key: 'diskThresholdMode', label: 'Disk threshold', type: 'select', options: ['percent', 'bytes', 'off'] },
  { key: 'diskThresholdPercent', label: 'Disk threshold (%)', type: 'number', step: 'any' },
  { key: 'diskThresholdBytes', label: 'Disk threshold (bytes)', type: 'number' },
  { key: 'diskCapacityBytes', label: 'Disk capacity (bytes, 0: from the engine)', type: 'number' },
  { key: 'diskCooldownSeconds', label: 'Disk warning cooldown (s)', type: 'number' },
];

// fieldOf finds the field an API message is about ("metricsInterval must
// be between …" names metricsIntervalSeconds).
export function fieldOf(message) {
  const byLength = [...fields].sort((a, b) => b.key.length - a.key.length);
  for (const f of byLength) {
    if (message.includes(f.key) || message.includes(f.key.replace(/Seconds$/, ''))) return f.key;
  }
  return null;
}

export function renderSettings(section, env, etag, onSaved) {
  let version = etag;
  let current = env.settings;
  const result = h('p', { id: 'settings-result', role: 'status' });
  const form = h('form', { id: 'settings-form', className: 'settings', noValidate: true });
  const { inputs, clearErrors, showError } = formFields(form, fields, 'setting-', 'error-');
  const save = h('button', { type: 'submit', id: 'settings-save' }, 'Save');
  form.append(h('div', { className: 'actions' }, save), result);
  section.append(h('h2', {}, 'Settings'), form);
  fill(current);

  function fill(s) {
    for (const f of fields) {
      const v = s[f.key];
      if (f.type === 'checkbox') inputs[f.key].checked = !!v;
      else inputs[f.key].value = v === undefined || v === null ? '' : String(v);
    }
  }

  function changes() {
    const patch = {};
    for (const f of fields) {
      const el = inputs[f.key];
      let v;
      if (f.type === 'checkbox') v = el.checked;
      else if (f.type === 'number') v = el.value.trim() === '' ? NaN : Number(el.value);
      else v = el.value;
      if (f.type === 'number' && Number.isNaN(v)) { patch[f.key] = el.value; continue; } // the API says what is wrong
      if (v !== current[f.key]) patch[f.key] = v;
    }
    return patch;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    result.className = '';
    const patch = changes();
    if (Object.keys(patch).length === 0) { result.textContent = 'Nothing changed.'; return; }
    save.disabled = true;
    result.textContent = 'Saving…';
    try {
      const { data, response } = await api(`/environments/${env.id}/settings`, {
        method: 'PUT', body: patch, headers: version ? { 'If-Match': version } : {},
      });
      version = response.headers.get('ETag') || version;
      current = data.environment.settings;
      fill(current);
      result.className = 'ok';
      result.textContent = response.status === 202
        ? 'Saved; the workflow applies it shortly (' + (data.message || 'pending') + ').'
        : 'Saved and applied by the workflow.';
      if (onSaved) onSaved();
    } catch (e) {
      result.className = 'error';
      if (e instanceof APIError && e.status === 412) {
        result.textContent = 'Someone changed these settings meanwhile: reload the page to see them.';
      } else {
        const key = e instanceof APIError ? fieldOf(e.message) : null;
        if (key) {
          showError(key, e.message);
          result.textContent = 'Not saved: nothing changed.';
        } else {
          result.textContent = 'Not saved: ' + e.message;
        }
      }
    } finally {
      save.disabled = false;
    }
  });
  return () => clear(section);
}
