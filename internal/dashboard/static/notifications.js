// Notifications: the channels (add, test, delete; URLs only ever shown
// redacted), what each is subscribed to, and the delivery history with
// every attempt.
import { api } from './api.js';
import { h, clear, fmtTime, errorBox } from './util.js';

const KINDS = ['environment_offline', 'environment_online', 'disk_space_warning', 'container_oom', 'container_unhealthy',
  'container_healthy', 'container_died_unexpectedly', 'container_started', 'container_stopped',
  'alert_firing', 'alert_resolved'];

export function renderNotifications(main) {
  let stopped = false;
  const channels = h('div', { id: 'channels' });
  const history = h('div', { id: 'deliveries' });
  const addResult = h('p', { id: 'channel-add-result', role: 'status' });
  const name = h('input', { name: 'name', id: 'channel-name', required: true, placeholder: 'ops chat' });
  const url = h('input', { name: 'url', id: 'channel-url', required: true, placeholder: 'generic+https://hooks.example.com/… or slack://…', autocomplete: 'off' });
  const addForm = h('form', { id: 'channel-add', className: 'inline-form' },
    h('label', { for: 'channel-name' }, 'Name'), name,
    h('label', { for: 'channel-url', title: 'A Shoutrrr service URL: slack://, discord://, telegram://, … or generic+https:// for a plain webhook' }, 'Service URL'), url,
    h('button', { type: 'submit' }, 'Add channel'), addResult);
  main.append(h('div', { className: 'page-head' }, h('h1', {}, 'Notifications')),
    h('section', { className: 'card' }, h('h2', {}, 'Channels'), channels, h('h3', {}, 'Add a channel'), addForm),
    h('section', { className: 'card' }, h('h2', {}, 'Deliveries'), history));

  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    addResult.className = '';
    addResult.textContent = 'Adding…';
    try {
      await api('/notification-channels', { method: 'POST', body: { name: name.value.trim(), url: url.value.trim() } });
      addForm.reset();
      addResult.className = 'ok';
      addResult.textContent = 'Added.';
      loadChannels();
    } catch (e) {
      addResult.className = 'error';
      addResult.textContent = e.message;
    }
  });

  async function loadChannels() {
    try {
      const [{ data }, envs] = await Promise.all([api('/notification-channels'), api('/environments')]);
      if (stopped) return;
      const list = data.channels || [];
      const envList = (envs.data && (envs.data.environments || envs.data)) || [];
      clear(channels);
      if (list.length === 0) { channels.append(h('p', { className: 'empty' }, 'No channel yet.')); return; }
      const rows = [];
      for (const c of list) rows.push(channelRow(c, envList));
      channels.append(h('table', { className: 'grid channels' },
        h('thead', {}, h('tr', {}, ['Name', 'URL', 'Enabled', 'Subscribed to', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)));
    } catch (e) {
      if (!stopped) clear(channels).append(errorBox(e));
    }
  }

  function channelRow(c, envList) {
    const out = h('span', { className: 'muted small', role: 'status' });
    const envNames = (c.environments || []).map((id) => (envList.find((e) => e.id === id) || { name: id.slice(0, 8) }).name);
    const subscription = h('div', { className: 'small' },
      (c.effectiveKinds || c.kinds || []).join(', ') || 'nothing',
      h('div', { className: 'muted' }, envNames.length ? 'environments: ' + envNames.join(', ') : 'every environment'));
    const edit = h('details', { className: 'sub-edit' }, h('summary', {}, 'Edit subscription'), subscriptionForm(c, envList, out));
    return h('tr', { 'data-channel': c.id },
      h('td', { 'data-label': 'Name' }, c.name),
      h('td', { 'data-label': 'URL', className: 'url' }, h('code', {}, c.urlRedacted)),
      h('td', { 'data-label': 'Enabled' }, c.enabled ? 'yes' : 'no'),
      h('td', { 'data-label': 'Subscribed to' }, subscription, edit),
      h('td', { className: 'row-actions' },
        h('button', {
          type: 'button', className: 'test',
          onclick: async () => {
            out.textContent = 'Sending…';
            try {
              const { data } = await api(`/notification-channels/${c.id}/test`, { method: 'POST' });
              out.textContent = (data && data.message) || 'Sent.';
            } catch (e) { out.textContent = e.message; }
          },
        }, 'Test'),
        h('button', {
          type: 'button', className: 'danger',
          onclick: async () => {
            if (!confirm(`Delete the channel ${c.name}?`)) return;
            try { await api(`/notification-channels/${c.id}`, { method: 'DELETE' }); loadChannels(); } catch (e) { out.textContent = e.message; }
          },
        }, 'Delete'), out));
  }

  function subscriptionForm(c, envList, out) {
    const kindBoxes = KINDS.map((k) => h('label', { className: 'check' },
      h('input', { type: 'checkbox', value: k, checked: (c.kinds || []).includes(k) }), ' ' + k));
    const envBoxes = envList.map((e) => h('label', { className: 'check' },
      h('input', { type: 'checkbox', value: e.id, checked: (c.environments || []).includes(e.id) }), ' ' + e.name));
    const form = h('form', { className: 'sub-form' },
      h('fieldset', {}, h('legend', {}, 'Kinds (none: the defaults)'), kindBoxes),
      h('fieldset', {}, h('legend', {}, 'Environments (none: every one)'), envBoxes),
      h('button', { type: 'submit' }, 'Save subscription'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const picked = (boxes) => boxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
      try {
        await api(`/notification-channels/${c.id}/subscription`, { method: 'PUT', body: { kinds: picked(kindBoxes), environments: picked(envBoxes) } });
        out.textContent = 'Subscription saved.';
        loadChannels();
      } catch (e) { out.textContent = e.message; }
    });
    return form;
  }

  async function loadHistory() {
    try {
      const { data } = await api('/notifications?limit=50');
      if (stopped) return;
      const list = data.notifications || [];
      clear(history);
      if (list.length === 0) { history.append(h('p', { className: 'empty' }, 'No notification yet.')); return; }
      history.append(h('table', { className: 'grid deliveries' },
        h('thead', {}, h('tr', {}, ['Created', 'Channel', 'Kind', 'Title', 'Status', 'Attempts'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, list.map((n) => h('tr', { 'data-notification': String(n.id) },
          h('td', { 'data-label': 'Created' }, fmtTime(n.createdAt)),
          h('td', { 'data-label': 'Channel' }, n.channelName),
          h('td', { 'data-label': 'Kind' }, n.kind),
          h('td', { 'data-label': 'Title' }, n.title, h('div', { className: 'muted small' }, n.message)),
          h('td', { 'data-label': 'Status' }, h('span', { className: 'badge ' + n.status }, n.status), n.lastError ? h('div', { className: 'error small' }, n.lastError) : null),
          h('td', { 'data-label': 'Attempts' }, (n.attempts || []).length === 0 ? '–' : h('ol', { className: 'attempts' },
            n.attempts.map((a) => h('li', { className: a.ok ? 'ok' : 'error' }, fmtTime(a.at), ' ', a.ok ? 'delivered' : a.error || 'failed')))))))));
    } catch (e) {
      if (!stopped) clear(history).append(errorBox(e));
    }
  }

  loadChannels();
  loadHistory();
  const timer = setInterval(loadHistory, 15000);
  return () => { stopped = true; clearInterval(timer); };
}
