import { api } from '../api.js';
import { h, replace } from '../dom.js';
import type { Detail } from './types.js';

/** One part in a dialog: its frame with the findings drawn on it (server-rendered), what was found, and who decided what when. */
export class PartDialog {
  readonly el = h('dialog', { class: 'part', 'data-testid': 'part-dialog' });

  constructor(private readonly fmtTime: (iso: string) => string) {
    this.el.addEventListener('click', (e) => {
      if (e.target === this.el) this.el.close();
    });
  }

  async show(id: string): Promise<void> {
    const d = await api<Detail>('GET', `/api/inspections/${id}`);
    const img = h('img', { alt: `part ${d.partId} with findings`, 'data-testid': 'overlay' });
    const truth = h('input', { type: 'checkbox', 'data-testid': 'show-truth' });
    const setImage = () => {
      if (d.overlayUrl) img.src = `${d.overlayUrl}${truth.checked ? '?truth=true' : ''}`;
    };
    truth.addEventListener('change', setImage);
    setImage();
    replace(
      this.el,
      h(
        'header',
        {},
        h('h2', {}, d.partId),
        h('span', { class: 'muted' }, `${d.station} · ${this.fmtTime(d.triggeredAt)} · ${d.modelId}@${d.modelVersion}`),
        h('button', { class: 'btn', type: 'button', 'aria-label': 'close', onclick: () => this.el.close() }, '✕'),
      ),
      h(
        'div',
        { class: 'part-body' },
        h(
          'div',
          { class: 'part-image' },
          d.overlayUrl ? img : h('div', { class: 'chart-empty' }, 'No image stored (or pruned by retention).'),
          h(
            'div',
            { class: 'image-tools' },
            d.truth ? h('label', {}, truth, ' ground truth') : null,
            d.imageUrl ? h('a', { href: d.imageUrl, target: '_blank', rel: 'noopener' }, 'original image') : null,
          ),
        ),
        h(
          'div',
          { class: 'part-facts' },
          h('dl', {}, ...facts(d)),
          h('h3', {}, 'Findings'),
          d.findings.length
            ? h('table', { class: 'findings' }, ...d.findings.map((f) => h('tr', {}, h('td', {}, f.label), h('td', { class: 'num' }, f.score.toFixed(3)), h('td', {}, f.box ? 'box' : '', f.heatMap ? ' heat map' : ''))))
            : h('p', { class: 'muted' }, 'none'),
          h('h3', {}, 'History'),
          h(
            'ol',
            { class: 'history', 'data-testid': 'history' },
            ...d.history.map((e) =>
              h('li', {}, h('time', {}, this.fmtTime(e.at)), h('b', {}, e.event), ` ${e.actor}`, e.verdict ? ` → ${e.verdict}${e.defectClass ? ` (${e.defectClass})` : ''}` : '', e.detail ? h('div', { class: 'muted' }, e.detail) : null),
            ),
          ),
        ),
      ),
    );
    if (!this.el.open) this.el.showModal();
  }
}

function facts(d: Detail): HTMLElement[] {
  const row = (k: string, v: string | null) => [h('dt', {}, k), h('dd', {}, v ?? '–')];
  return [
    ...row('Model verdict', `${d.modelVerdict ?? '–'}${d.defectScore !== null ? ` (score ${d.defectScore.toFixed(3)})` : ''}`),
    ...row('Verdict', `${d.verdict ?? '–'}${d.defectClass ? ` · ${d.defectClass}` : ''}`),
    ...row('Decided by', d.decidedBy),
    ...row('Reason', d.reason),
    ...(d.review?.note ? row('Note', d.review.note) : []),
    ...(d.truth ? row('Ground truth', d.truth.label) : []),
    ...(d.errorCode ? row('Error', d.errorCode) : []),
  ].flat();
}
