// Charts: sparklines drawn straight on a canvas (hundreds per page cost
// nothing), time charts with uPlot (window.uPlot, vendor/uplot).

const palette = ['#2f7ed8', '#e4572e', '#17a398', '#a05eb5', '#f3a712', '#6c757d'];

// sparkline draws values (nulls are gaps) in a small canvas.
export function sparkline(values, { width = 120, height = 28, max, color = palette[0], label = '' } = {}) {
  const c = document.createElement('canvas');
  const ratio = window.devicePixelRatio || 1;
  c.width = width * ratio;
  c.height = height * ratio;
  c.className = 'spark';
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', label);
  c.dataset.points = String(values.filter((v) => v !== null && v !== undefined).length);
  const g = c.getContext('2d');
  g.scale(ratio, ratio);
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return c;
  const top = max !== undefined ? max : Math.max(...present, 1);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  g.strokeStyle = color;
  g.lineWidth = 1.5;
  g.beginPath();
  let drawing = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) { drawing = false; return; }
    const x = i * step;
    const y = height - 2 - (Math.min(v, top) / top) * (height - 4);
    if (drawing) g.lineTo(x, y); else g.moveTo(x, y);
    drawing = true;
  });
  g.stroke();
  if (present.length === 1) { // one point: a dot, not an invisible line
    const i = values.findIndex((v) => v !== null && v !== undefined);
    g.fillStyle = color;
    g.beginPath();
    g.arc(Math.min(i * step, width - 2), height - 2 - (Math.min(values[i], top) / top) * (height - 4), 2, 0, 2 * Math.PI);
    g.fill();
  }
  return c;
}

// timeChart draws series over time in el with uPlot.
//   times:  seconds since the epoch
//   series: [{label, values, color?, fmt?}]
//   bands:  [{from, to, color, label}] shaded spans (seconds)
//   lines:  [{value, color, label}] horizontal lines (e.g. a threshold)
//   y:      {min, max, fmt} (max: at least this high)
//   x:      {min, max} seconds: the range shown whatever the data
export function timeChart(el, { times, series, bands = [], lines = [], y = {}, x = {}, height = 220, title }) {
  const width = Math.max(280, el.clientWidth || 600);
  const fmt = y.fmt || ((v) => (v === null || v === undefined ? '–' : v.toFixed(1)));
  const opts = {
    title,
    width,
    height,
    cursor: { drag: { x: true, y: false } },
    scales: {
      x: { time: true, range: (u, min, max) => [x.min !== undefined ? x.min : min, x.max !== undefined ? x.max : max] },
      y: {
        range: (u, min, max) => {
          const lo = y.min !== undefined ? y.min : (min ?? 0);
          let hi = y.max !== undefined ? Math.max(y.max, max ?? 0) : (max ?? 1);
          if (!(hi > lo)) hi = lo + 1; // a flat series still gets an axis
          return [lo, hi];
        },
      },
    },
    axes: [{}, { values: (u, vals) => vals.map((v) => fmt(v)), size: 70 }],
    series: [{}].concat(series.map((s, i) => ({
      label: s.label,
      stroke: s.color || palette[i % palette.length],
      width: 1.5,
      value: (u, v) => (s.fmt || fmt)(v),
      spanGaps: false,
    }))),
    hooks: {
      drawClear: [(u) => {
        const g = u.ctx;
        const top = u.bbox.top;
        const h = u.bbox.height;
        for (const b of bands) {
          const x0 = u.valToPos(Math.max(b.from, u.scales.x.min), 'x', true);
          const x1 = u.valToPos(Math.min(b.to, u.scales.x.max), 'x', true);
          if (x1 <= x0) continue;
          g.fillStyle = b.color || 'rgba(228,87,46,0.15)';
          g.fillRect(x0, top, Math.max(1, x1 - x0), h);
        }
      }],
      draw: [(u) => {
        const g = u.ctx;
        for (const l of lines) {
          const yPos = u.valToPos(l.value, 'y', true);
          if (yPos < u.bbox.top || yPos > u.bbox.top + u.bbox.height) continue;
          g.save();
          g.strokeStyle = l.color || '#e4572e';
          g.setLineDash([6, 4]);
          g.lineWidth = 1.5;
          g.beginPath();
          g.moveTo(u.bbox.left, yPos);
          g.lineTo(u.bbox.left + u.bbox.width, yPos);
          g.stroke();
          g.restore();
        }
      }],
    },
  };
  const data = [times].concat(series.map((s) => s.values));
  const plot = new window.uPlot(opts, data, el);
  el.dataset.points = String(times.length);
  const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth || width), height });
  window.addEventListener('resize', resize);
  return { plot, destroy: () => { window.removeEventListener('resize', resize); plot.destroy(); } };
}
