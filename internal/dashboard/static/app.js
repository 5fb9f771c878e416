// The dashboard's router: #/ (overview), #/env/<id> (one environment),
// #/alerts, #/notifications. Each page renders into <main> and returns a cleanup
// function (timers, the event stream, charts).
import { renderOverview } from './overview.js';
import { renderEnvironment } from './environment.js';
import { renderNotifications } from './notifications.js';
import { renderAlerts } from './alerts.js';
import { clear } from './util.js';

const main = document.getElementById('main');
let cleanup = null;

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  clear(main);
  const hash = location.hash.replace(/^#/, '') || '/';
  let page = 'overview';
  const env = hash.match(/^\/env\/([0-9a-fA-F-]{36})$/);
  if (env) {
    page = 'environment';
    cleanup = renderEnvironment(main, env[1]);
  } else if (hash === '/alerts') {
    page = 'alerts';
    cleanup = renderAlerts(main);
  } else if (hash === '/notifications') {
    page = 'notifications';
    cleanup = renderNotifications(main);
  } else {
    cleanup = renderOverview(main);
  }
  document.body.dataset.page = page;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === page || (page === 'environment' && a.dataset.nav === 'overview'));
  }
}

window.addEventListener('hashchange', route);
route();
