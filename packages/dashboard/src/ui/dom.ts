/**
 * The only way the front-end builds the page: elements from the DOM API, text through text nodes. No innerHTML, no
 * attribute from data except through `setAttribute` on a fixed allow-list of attribute names (never `href` or `src`
 * or an event attribute from data), so whatever an attester put in a claim stays text.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Readonly<Record<string, string | number | boolean | undefined | EventListener>>;

const SAFE_ATTRS = new Set([
  'class', 'id', 'title', 'type', 'name', 'value', 'placeholder', 'for', 'role', 'colspan', 'rows', 'cols', 'spellcheck',
  'autocomplete', 'disabled', 'checked', 'selected', 'readonly', 'open', 'tabindex', 'aria-label', 'aria-live',
  'aria-current', 'aria-hidden', 'aria-invalid', 'data-testid', 'data-state', 'data-id', 'data-route', 'wrap', 'scope', 'maxlength',
]);

function append(parent: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

function applyAttrs(el: Element, attrs: Attrs | undefined): void {
  if (attrs === undefined) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') {
      el.addEventListener(k.startsWith('on') ? k.slice(2) : k, v);
      continue;
    }
    if (k === 'href') {
      // Only the dashboard's own routes.
      if (typeof v !== 'string' || !v.startsWith('#/')) throw new Error('href must be an internal route');
      el.setAttribute('href', v);
      continue;
    }
    if (!SAFE_ATTRS.has(k)) throw new Error(`attribute ${k} is not allowed`);
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_ATTRS = new Set(['class', 'x', 'y', 'width', 'height', 'viewBox', 'x1', 'x2', 'y1', 'y2', 'text-anchor', 'role', 'aria-label', 'data-testid', 'rx', 'preserveAspectRatio']);

export function s(tag: string, attrs?: Readonly<Record<string, string | number>>, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (!SVG_ATTRS.has(k)) throw new Error(`svg attribute ${k} is not allowed`);
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function clear(el: Element): void {
  while (el.firstChild !== null) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
  clear(el);
  append(el, children);
}

/** A short form of a long hex value (the full value in the tooltip and when copied). */
export function shortHex(v: string | undefined, n = 12): HTMLElement {
  if (v === undefined || v === '') return h('span', { class: 'muted' }, '—');
  return h('code', { class: 'hex short', title: v }, v.length > n + 1 ? `${v.slice(0, n)}…` : v);
}

export function fmtTime(iso: string | undefined): string {
  if (iso === undefined) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function badge(text: string, kind: string): HTMLElement {
  return h('span', { class: `badge badge-${kind}` }, text);
}

export function outcomeKind(outcome: string): string {
  if (outcome === 'permitted' || outcome === 'granted') return 'ok';
  if (outcome === 'denied' || outcome === 'refused') return 'bad';
  return 'warn';
}

export function tcbKind(status: string | undefined): string {
  switch (status) {
    case 'UpToDate':
      return 'ok';
    case 'SWHardeningNeeded':
    case 'ConfigurationNeeded':
    case 'ConfigurationAndSWHardeningNeeded':
      return 'info';
    case 'OutOfDate':
    case 'OutOfDateConfigurationNeeded':
      return 'warn';
    case 'Revoked':
      return 'bad';
    default:
      return 'neutral';
  }
}

/** Pretty JSON as text in a <pre>. */
export function jsonBlock(v: unknown, testid?: string): HTMLElement {
  let text: string;
  try {
    text = JSON.stringify(v, null, 2) ?? 'null';
  } catch {
    text = String(v);
  }
  return h('pre', { class: 'json', 'data-testid': testid }, text);
}

export interface Column<T> {
  readonly title: string;
  readonly cell: (row: T) => Child;
  readonly className?: string;
}

export function table<T>(rows: readonly T[], columns: readonly Column<T>[], opts: { testid?: string; empty?: string; onRow?: (row: T) => void; rowState?: (row: T) => string | undefined } = {}): HTMLElement {
  const thead = h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', class: c.className }, c.title))));
  const tbody = h('tbody');
  if (rows.length === 0) {
    tbody.appendChild(h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, opts.empty ?? 'Nothing yet.')));
  }
  for (const r of rows) {
    const tr = h('tr', { 'data-state': opts.rowState?.(r) });
    if (opts.onRow !== undefined) {
      tr.classList.add('clickable');
      tr.tabIndex = 0;
      const go = (): void => opts.onRow?.(r);
      tr.addEventListener('click', go);
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') go();
      });
    }
    for (const c of columns) tr.appendChild(h('td', { class: c.className }, c.cell(r)));
    tbody.appendChild(tr);
  }
  return h('div', { class: 'table-wrap' }, h('table', { 'data-testid': opts.testid }, thead, tbody));
}

export function card(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}
