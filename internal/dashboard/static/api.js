// Talking to the API of the same origin: JSON, the token of this browser
// tab (asked when the API answers 401; cancelling fails the requests that
// waited for it), one error type.

const TOKEN_KEY = 'windflow.token';

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

let asking = null;

// needsToken is the error of a request refused for want of a token once
// the dialog was cancelled.
const needsToken = () => new APIError(401, 'unauthorized',
  'This API needs its token (WINDFLOW_API_TOKEN). Your next action asks for it again.');

// declined is set when the token dialog is cancelled: 401 answers then
// fail at once instead of asking again (a page's refresh timers would
// reopen it), until the user acts: a click, a form or a navigation.
let declined = false;
for (const type of ['click', 'submit', 'hashchange']) {
  window.addEventListener(type, () => { declined = false; }, true);
}

// askToken shows the token dialog; it resolves once a token is entered and
// rejects with an APIError when the dialog is closed without one (Esc).
export function askToken(reason) {
  if (asking) return asking;
  const dialog = document.getElementById('token-dialog');
  const form = document.getElementById('token-form');
  const input = document.getElementById('token-input');
  const err = document.getElementById('token-error');
  err.hidden = !reason;
  err.textContent = reason || '';
  input.value = '';
  asking = new Promise((resolve, reject) => {
    const listening = new AbortController();
    const settle = () => { listening.abort(); asking = null; };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      settle();
      dialog.close();
      resolve();
    }, { signal: listening.signal });
    // Esc, or any other way the dialog closes without a token.
    dialog.addEventListener('close', () => {
      settle();
      declined = true;
      reject(needsToken());
    }, { signal: listening.signal });
  });
  dialog.showModal();
  input.focus();
  return asking;
}

// api sends one request to /api/v1<path>; it resolves to {data, response}
// or rejects with an APIError carrying the API's code and message.
export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  for (;;) {
    const h = { Accept: 'application/json', ...headers };
    const t = token();
    if (t) h.Authorization = 'Bearer ' + t;
    const init = { method, headers: h };
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch('/api/v1' + path, init);
    } catch (e) {
      throw new APIError(0, 'network', 'The Windflow API cannot be reached: ' + e.message);
    }
    if (res.status === 401) {
      if (declined) throw needsToken();
      await askToken(t ? 'That token was refused.' : '');
      continue;
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const e = data && data.error;
      throw new APIError(res.status, e ? e.code : 'http_' + res.status, e ? e.message : res.statusText);
    }
    return { data, response: res };
  }
}

// streamURL is the URL of the live event stream (an EventSource cannot
// send headers: the token goes in the query, which the API accepts on this
// route only).
export function streamURL(environmentID) {
  const q = new URLSearchParams();
  if (environmentID) q.set('environment', environmentID);
  const t = token();
  if (t) q.set('access_token', t);
  const s = q.toString();
  return '/api/v1/stream' + (s ? '?' + s : '');
}
