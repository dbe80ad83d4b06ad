/** SVG elements for the charts: drawn here, in the page, with no charting library and nothing fetched. */
type Attrs = Record<string, string | number | null | undefined | false>;

const NS = 'http://www.w3.org/2000/svg';

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (SVGElement | string | null | false)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== false) el.append(c);
  return el;
}

/** A native tooltip (hover) on an SVG element. */
export function tip(el: SVGElement, text: string): SVGElement {
  el.append(s('title', {}, text));
  return el;
}

/** Linear scale from a domain onto a pixel range. */
export function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** Around five round ticks between lo and hi. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => span / st <= count) ?? mag * 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

export interface Frame {
  svg: SVGSVGElement;
  /** Plot area in pixels. */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** An empty chart with its plot area, sized to its container. */
export function frame(width: number, height: number, label: string, margin = { left: 56, right: 56, top: 14, bottom: 44 }): Frame {
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'chart' });
  return { svg, x0: margin.left, x1: width - margin.right, y0: height - margin.bottom, y1: margin.top };
}

/** Left (or right) axis with grid lines and tick labels. */
export function yAxis(f: Frame, y: (v: number) => number, values: number[], fmt: (v: number) => string, side: 'left' | 'right' = 'left'): void {
  for (const v of values) {
    if (side === 'left') f.svg.append(s('line', { x1: f.x0, x2: f.x1, y1: y(v), y2: y(v), class: 'grid' }));
    const x = side === 'left' ? f.x0 - 6 : f.x1 + 6;
    f.svg.append(s('text', { x, y: y(v) + 4, class: 'tick', 'text-anchor': side === 'left' ? 'end' : 'start' }, fmt(v)));
  }
}

/** Bottom labels, thinned so they do not overlap. */
export function xLabels(f: Frame, xs: number[], labels: string[], maxLabels: number): void {
  const every = Math.max(1, Math.ceil(labels.length / maxLabels));
  labels.forEach((l, k) => {
    if (k % every !== 0) return;
    f.svg.append(s('text', { x: xs[k] ?? 0, y: f.y0 + 16, class: 'tick', 'text-anchor': 'middle' }, l));
  });
  f.svg.append(s('line', { x1: f.x0, x2: f.x1, y1: f.y0, y2: f.y0, class: 'axis' }));
}
