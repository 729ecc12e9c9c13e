/** Two small SVG charts drawn by hand: stacked bars over time, and horizontal totals. Colours come from CSS classes. */
import { h, s } from './dom.js';

const KNOWN: Readonly<Record<string, string>> = {
  permitted: 'ok',
  granted: 'ok',
  UpToDate: 'ok',
  denied: 'bad',
  refused: 'bad',
  Revoked: 'bad',
  error: 'warn',
  OutOfDate: 'warn',
  OutOfDateConfigurationNeeded: 'warn2',
  SWHardeningNeeded: 'info',
  ConfigurationNeeded: 'info2',
  ConfigurationAndSWHardeningNeeded: 'info3',
  SgxEnclave: 'p0',
  OpenEnclave: 'p1',
};

/** A stable colour class per series key. */
export function seriesClass(key: string, index: number): string {
  return `fill-${KNOWN[key] ?? `p${(index % 6) + 2}`}`;
}

export interface Series {
  readonly key: string;
  readonly values: readonly number[];
}

function niceMax(n: number): number {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

export function legend(keys: readonly string[]): HTMLElement {
  return h('ul', { class: 'legend' }, ...keys.map((k, i) => h('li', {}, h('span', { class: `swatch ${seriesClass(k, i).replace('fill-', 'bg-')}` }), k)));
}

/** Stacked bars: one bar per bucket, one segment per series. */
export function stackedBars(labels: readonly string[], series: readonly Series[], testid: string): HTMLElement {
  const W = 1200;
  const H = 230;
  const left = 36;
  const bottom = 22;
  const top = 8;
  const n = Math.max(labels.length, 1);
  const totals = labels.map((_, i) => series.reduce((a, se) => a + (se.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotH = H - bottom - top;
  const slot = (W - left - 4) / n;
  const barW = Math.max(2, slot * 0.72);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'attestations over time', 'data-testid': testid });
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH * (1 - f);
    svg.appendChild(s('line', { x1: left, x2: W, y1: y, y2: y, class: 'grid' }));
    svg.appendChild(s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis' }, String(Math.round(max * f))));
  }
  const every = Math.max(1, Math.ceil(n / 12));
  labels.forEach((label, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    series.forEach((se, si) => {
      const v = se.values[i] ?? 0;
      if (v <= 0) return;
      const bh = (v / max) * plotH;
      y -= bh;
      svg.appendChild(s('rect', { x, y, width: barW, height: bh, class: seriesClass(se.key, si) }, s('title', {}, `${label}: ${v} ${se.key}`)));
    });
    if (i % every === 0) svg.appendChild(s('text', { x: x + barW / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, label));
  });
  return h('div', { class: 'chart-wrap' }, svg, legend(series.map((x) => x.key)));
}

/** Horizontal bars of totals, largest first. */
export function totals(entries: readonly (readonly [string, number])[], testid: string): HTMLElement {
  const sorted = [...entries].sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...sorted.map((e) => e[1]));
  const rowH = 24;
  const W = 380;
  const labelW = 200;
  const H = Math.max(1, sorted.length) * rowH;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart totals', role: 'img', 'aria-label': 'totals', 'data-testid': testid });
  if (sorted.length === 0) svg.appendChild(s('text', { x: 0, y: 16, class: 'axis' }, 'no attestations in this period'));
  sorted.forEach(([k, v], i) => {
    const y = i * rowH;
    const bw = ((W - labelW - 44) * v) / max;
    svg.appendChild(s('text', { x: 0, y: y + 16, class: 'label' }, k.length > 26 ? `${k.slice(0, 25)}…` : k, k.length > 26 ? s('title', {}, k) : null));
    svg.appendChild(s('rect', { x: labelW, y: y + 4, width: Math.max(bw, 1), height: rowH - 8, rx: 2, class: seriesClass(k, i) }));
    svg.appendChild(s('text', { x: labelW + bw + 6, y: y + 16, class: 'value' }, String(v)));
  });
  return svg as unknown as HTMLElement;
}
