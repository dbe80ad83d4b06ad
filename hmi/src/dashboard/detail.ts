import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { num } from '../format.js';
import { className, t, tOr, verdictWord } from '../i18n/index.js';
import { labelName } from './charts.js';
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
    const img = h('img', { alt: t('dash.part.alt', { part: d.partId }), 'data-testid': 'overlay' });
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
        h('button', { class: 'btn', type: 'button', 'aria-label': t('dash.part.close'), onclick: () => this.el.close() }, '✕'),
      ),
      h(
        'div',
        { class: 'part-body' },
        h(
          'div',
          { class: 'part-image' },
          d.overlayUrl ? img : h('div', { class: 'chart-empty' }, t('dash.part.noImage')),
          h(
            'div',
            { class: 'image-tools' },
            d.truth ? h('label', {}, truth, ` ${t('dash.part.truth')}`) : null,
            d.imageUrl ? h('a', { href: d.imageUrl, target: '_blank', rel: 'noopener' }, t('dash.part.original')) : null,
          ),
        ),
        h(
          'div',
          { class: 'part-facts' },
          h('dl', {}, ...facts(d)),
          h('h3', {}, t('dash.part.findings')),
          d.findings.length
            ? h(
                'table',
                { class: 'findings' },
                ...d.findings.map((f) =>
                  h('tr', {}, h('td', {}, className(f.label)), h('td', { class: 'num' }, num(f.score, 3)), h('td', {}, f.box ? t('dash.part.box') : '', f.heatMap ? ` ${t('dash.part.heatMap')}` : '')),
                ),
              )
            : h('p', { class: 'muted' }, t('dash.part.none')),
          h('h3', {}, t('dash.part.history')),
          h(
            'ol',
            { class: 'history', 'data-testid': 'history' },
            ...d.history.map((e) =>
              h(
                'li',
                {},
                h('time', {}, this.fmtTime(e.at)),
                h('b', {}, tOr(`dash.event.${e.event}`, e.event)),
                ` ${e.actor}`,
                e.verdict ? ` → ${verdictWord(e.verdict)}${e.defectClass ? ` (${className(e.defectClass)})` : ''}` : '',
                e.detail ? h('div', { class: 'muted' }, e.detail) : null,
              ),
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
  const verdict = (v: Detail['verdict']) => (v === null ? '–' : verdictWord(v));
  return [
    ...row(t('dash.part.modelVerdict'), `${verdict(d.modelVerdict)}${d.defectScore !== null ? ` ${t('dash.part.score', { score: num(d.defectScore, 3) })}` : ''}`),
    ...row(t('dash.part.verdict'), `${verdict(d.verdict)}${d.defectClass ? ` · ${className(d.defectClass)}` : ''}`),
    ...row(t('dash.part.decidedBy'), d.decidedBy && t(`decidedBy.${d.decidedBy}`)),
    ...row(t('dash.part.reason'), d.reason),
    ...(d.review?.note ? row(t('dash.part.note'), d.review.note) : []),
    ...(d.truth ? row(t('dash.part.groundTruth'), labelName(d.truth.label)) : []),
    ...(d.errorCode ? row(t('dash.part.error'), d.errorCode) : []),
  ].flat();
}
