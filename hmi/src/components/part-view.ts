import { h, replace } from '../dom.js';
import { className, t } from '../i18n/index.js';
import type { Finding, Inspection } from '../types.js';

export type OverlayMode = 'boxes' | 'heat' | 'off';

const MAX_ZOOM = 6;
const DOUBLE_TAP_MS = 320;
const DOUBLE_TAP_PX = 40;

/**
 * The part's image, fitted to the stage, with the model's marks over it
 * (boxes or heat map, in the image's own normalised coordinates so they stay
 * on the part at any zoom). Pinch and double-tap zoom, drag to pan, wheel
 * zoom with a mouse.
 */
export class PartView {
  readonly el: HTMLDivElement;
  private readonly zoomEl: HTMLDivElement;
  private readonly img: HTMLImageElement;
  private readonly overlay: HTMLDivElement;
  private readonly message: HTMLDivElement;
  private inspection: Inspection | null = null;
  private mode: OverlayMode = 'boxes';
  private natural = { w: 1, h: 1 };
  private base = { left: 0, top: 0, w: 0, h: 0 };
  private z = { s: 1, tx: 0, ty: 0 };
  private readonly pointers = new Map<number, { x: number; y: number }>();
  private pinch: { d0: number; s0: number; p: { x: number; y: number } } | null = null;
  private lastTap = { at: 0, x: 0, y: 0 };
  private down = { at: 0, x: 0, y: 0, moved: false };
  private readonly resize = new ResizeObserver(() => this.layout());
  onZoomChange: (zoomed: boolean) => void = () => {};

  constructor() {
    this.img = h('img', { alt: '', draggable: 'false' });
    this.overlay = h('div', { class: 'overlay' });
    this.zoomEl = h('div', { class: 'zoom' }, this.img, this.overlay);
    this.message = h('div', { class: 'stage-empty', hidden: true });
    this.el = h('div', { class: 'stage', 'data-testid': 'part-image' }, this.zoomEl, this.message);
    this.img.addEventListener('load', () => {
      this.natural = { w: this.img.naturalWidth || 1, h: this.img.naturalHeight || 1 };
      this.message.hidden = true;
      this.layout();
    });
    this.img.addEventListener('error', () => this.showMessage(t('review.imageUnavailable')));
    this.resize.observe(this.el);
    this.el.addEventListener('pointerdown', (e) => this.onDown(e));
    this.el.addEventListener('pointermove', (e) => this.onMove(e));
    this.el.addEventListener('pointerup', (e) => this.onUp(e));
    this.el.addEventListener('pointercancel', (e) => this.onUp(e));
    this.el.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
  }

  show(i: Inspection | null): void {
    if (i?.id === this.inspection?.id) return;
    this.inspection = i;
    this.resetZoom();
    this.zoomEl.hidden = !i;
    if (!i) {
      this.img.removeAttribute('src');
      return;
    }
    if (i.imageUrl) {
      this.message.hidden = true;
      this.img.src = i.imageUrl;
      this.img.alt = `${t('review.part')} ${i.partId}`;
    } else {
      this.img.removeAttribute('src');
      this.showMessage(t('review.noImage'));
    }
    this.drawOverlay();
  }

  setMode(mode: OverlayMode): void {
    this.mode = mode;
    this.drawOverlay();
  }

  resetZoom(): void {
    this.z = { s: 1, tx: 0, ty: 0 };
    this.apply();
  }

  destroy(): void {
    this.resize.disconnect();
  }

  private showMessage(text: string): void {
    replace(this.message, h('p', {}, text));
    this.message.hidden = false;
  }

  private drawOverlay(): void {
    const i = this.inspection;
    this.overlay.replaceChildren();
    if (!i || this.mode === 'off') return;
    for (const f of i.findings) {
      if (this.mode === 'boxes' && f.box) this.overlay.append(boxEl(f));
      if (this.mode === 'heat' && f.heatMap) this.overlay.append(heatEl(f.heatMap));
    }
  }

  /** Fit the image into the stage (contain), centred. */
  private layout(): void {
    const W = this.el.clientWidth;
    const H = this.el.clientHeight;
    const k = Math.min(W / this.natural.w, H / this.natural.h);
    const w = this.natural.w * k;
    const hgt = this.natural.h * k;
    this.base = { left: (W - w) / 2, top: (H - hgt) / 2, w, h: hgt };
    this.zoomEl.style.width = `${w}px`;
    this.zoomEl.style.height = `${hgt}px`;
    this.zoomEl.style.left = `${this.base.left}px`;
    this.zoomEl.style.top = `${this.base.top}px`;
    this.apply();
  }

  private apply(): void {
    const { s } = this.z;
    // Keep the image covering its own fitted box: no panning it off screen.
    this.z.tx = Math.min(0, Math.max(this.base.w - this.base.w * s, this.z.tx));
    this.z.ty = Math.min(0, Math.max(this.base.h - this.base.h * s, this.z.ty));
    if (s <= 1.001) this.z = { s: 1, tx: 0, ty: 0 };
    this.zoomEl.style.transform = `translate(${this.z.tx}px, ${this.z.ty}px) scale(${this.z.s})`;
    this.el.dataset.zoom = this.z.s.toFixed(2);
    this.onZoomChange(this.z.s > 1);
  }

  /** Zoom to `s` keeping the stage point `p` fixed. */
  private zoomAt(s: number, p: { x: number; y: number }): void {
    const next = Math.min(MAX_ZOOM, Math.max(1, s));
    const wx = (p.x - this.base.left - this.z.tx) / this.z.s;
    const wy = (p.y - this.base.top - this.z.ty) / this.z.s;
    this.z = { s: next, tx: p.x - this.base.left - next * wx, ty: p.y - this.base.top - next * wy };
    this.apply();
  }

  private local(e: PointerEvent | WheelEvent): { x: number; y: number } {
    const r = this.el.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  private onDown(e: PointerEvent): void {
    try {
      this.el.setPointerCapture(e.pointerId);
    } catch {
      // Synthetic or already-released pointers cannot be captured; tracking still works.
    }
    const p = this.local(e);
    this.pointers.set(e.pointerId, p);
    if (this.pointers.size === 1) this.down = { at: performance.now(), x: p.x, y: p.y, moved: false };
    if (this.pointers.size === 2) {
      const [a, b] = [...this.pointers.values()] as [{ x: number; y: number }, { x: number; y: number }];
      this.pinch = { d0: Math.hypot(a.x - b.x, a.y - b.y) || 1, s0: this.z.s, p: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 } };
      this.down.moved = true;
    }
  }

  private onMove(e: PointerEvent): void {
    const prev = this.pointers.get(e.pointerId);
    if (!prev) return;
    const p = this.local(e);
    this.pointers.set(e.pointerId, p);
    if (Math.hypot(p.x - this.down.x, p.y - this.down.y) > 10) this.down.moved = true;
    if (this.pointers.size >= 2 && this.pinch) {
      const [a, b] = [...this.pointers.values()] as [{ x: number; y: number }, { x: number; y: number }];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      this.zoomAt(this.pinch.s0 * (d / this.pinch.d0), this.pinch.p);
    } else if (this.pointers.size === 1 && this.z.s > 1) {
      this.z.tx += p.x - prev.x;
      this.z.ty += p.y - prev.y;
      this.apply();
    }
  }

  private onUp(e: PointerEvent): void {
    const p = this.pointers.get(e.pointerId) ?? this.local(e);
    this.pointers.delete(e.pointerId);
    if (this.pointers.size < 2) this.pinch = null;
    if (this.pointers.size > 0 || this.down.moved || e.type === 'pointercancel') return;
    const now = performance.now();
    if (now - this.lastTap.at < DOUBLE_TAP_MS && Math.hypot(p.x - this.lastTap.x, p.y - this.lastTap.y) < DOUBLE_TAP_PX) {
      this.lastTap.at = 0;
      if (this.z.s > 1) this.resetZoom();
      else this.zoomAt(2.5, p);
    } else {
      this.lastTap = { at: now, x: p.x, y: p.y };
    }
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    this.zoomAt(this.z.s * (e.deltaY < 0 ? 1.2 : 1 / 1.2), this.local(e));
  }
}

function pct(v: number): string {
  return `${(Math.min(1, Math.max(0, v)) * 100).toFixed(3)}%`;
}

function boxEl(f: Finding): HTMLElement {
  const b = f.box!;
  const el = h('div', { class: 'box', 'data-testid': 'finding-box' }, h('span', {}, `${className(f.label)} ${Math.round(f.score * 100)} %`));
  Object.assign(el.style, { left: pct(b.x), top: pct(b.y), width: pct(b.w), height: pct(b.h) });
  return el;
}

/** Heat map as a small canvas the browser scales smoothly: transparent where cold, yellow to red where hot. */
function heatEl(m: NonNullable<Finding['heatMap']>): HTMLElement {
  const canvas = h('canvas', { width: m.width, height: m.height, 'data-testid': 'heat-map' });
  const ctx = canvas.getContext('2d');
  if (ctx) {
    const bytes = Uint8Array.from(atob(m.data), (c) => c.charCodeAt(0));
    const img = ctx.createImageData(m.width, m.height);
    for (let i = 0; i < m.width * m.height; i++) {
      const v = (bytes[i] ?? 0) / 255;
      img.data[i * 4] = 255;
      img.data[i * 4 + 1] = Math.round(230 * (1 - v));
      img.data[i * 4 + 2] = 0;
      img.data[i * 4 + 3] = v < 0.15 ? 0 : Math.round(255 * Math.min(1, v * 1.1));
    }
    ctx.putImageData(img, 0, 0);
  }
  const wrap = h('div', {}, canvas);
  Object.assign(wrap.style, { position: 'absolute', left: pct(m.region.x), top: pct(m.region.y), width: pct(m.region.w), height: pct(m.region.h) });
  return wrap;
}
