// Small SVG charts drawn here (no library): a line over recent samples, with the latest value
// spelled out for screen readers.
import { h, s } from './dom.js';

const W = 560;
const H = 170;
const PAD = { left: 72, right: 12, top: 10, bottom: 12 };

/**
 * samples: [{t: ms, v: number}], newest last. max: the top of the scale (or the largest value).
 * format: value → text for labels.
 */
export function lineChart({ title, samples, max, format, limit }) {
  const values = samples.map((p) => p.v);
  const top = Math.max(max ?? 0, limit ?? 0, ...values, 1e-9);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const first = samples.length ? samples[0].t : 0;
  const span = Math.max((samples.length ? samples[samples.length - 1].t : 0) - first, 1);
  const x = (t) => PAD.left + ((t - first) / span) * innerW;
  const y = (v) => PAD.top + innerH - (v / top) * innerH;
  const latest = samples.length ? format(samples[samples.length - 1].v) : 'no samples yet';
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${title}: ${latest}` },
    s('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: PAD.top + innerH, class: 'axis' }),
    s('line', { x1: PAD.left, y1: PAD.top + innerH, x2: W - PAD.right, y2: PAD.top + innerH, class: 'axis' }),
    s('text', { x: PAD.left - 6, y: PAD.top + 10, class: 'tick', 'text-anchor': 'end' }, format(top)),
    s('text', { x: PAD.left - 6, y: PAD.top + innerH, class: 'tick', 'text-anchor': 'end' }, format(0)),
    limit ? s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(limit), y2: y(limit), class: 'limit' }) : null,
    samples.length > 1
      ? s('polyline', { class: 'series', points: samples.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') })
      : null,
    samples.length ? s('circle', { class: 'dot', r: 3, cx: x(samples[samples.length - 1].t), cy: y(samples[samples.length - 1].v) }) : null);
  return h('figure', { class: 'chart-box' }, h('figcaption', {}, h('strong', {}, title), ' ', h('span', { class: 'muted' }, latest)), svg);
}

/** Use of a limit as a <meter> (native, accessible, no inline style needed). */
export function usage(label, used, limit, unit = '') {
  const u = Number(used || 0);
  const l = Number(limit || 0);
  const text = l > 0 ? `${u} of ${l}${unit}` : `${u}${unit} (no limit)`;
  return h('div', { class: 'usage' },
    h('div', { class: 'usage-label' }, h('span', {}, label), h('span', { class: 'muted' }, text)),
    h('meter', { min: 0, max: Math.max(l, 1), value: u, low: Math.max(l, 1) * 0.7, high: Math.max(l, 1) * 0.9, optimum: 0, 'aria-label': `${label}: ${text}` }));
}
