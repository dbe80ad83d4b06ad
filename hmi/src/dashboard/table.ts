import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { num } from '../format.js';
import { className, t, tn, verdictWord } from '../i18n/index.js';
import type { Verdict } from '../types.js';
import type { Page, Row } from './types.js';

const verdictTag = (v: Verdict | 'error' | null) => h('span', { class: `tag ${v ?? 'none'}` }, v === null ? '–' : verdictWord(v));

/**
 * The inspection table: thumbnails, what the model and the person said,
 * newest first, more rows on demand (cursor pages, stable while parts arrive).
 */
export class InspectionTable {
  readonly el = h('section', { class: 'panel table-panel' });
  private readonly body = h('tbody', { 'data-testid': 'rows' });
  private readonly more = h('button', { class: 'btn', type: 'button', 'data-testid': 'more' }, t('dash.table.more'));
  private readonly count = h('span', { class: 'count', 'data-testid': 'match-count' });
  private cursor: string | null = null;
  private query = new URLSearchParams();

  constructor(
    private readonly fmtTime: (iso: string) => string,
    private readonly open: (row: Row) => void,
  ) {
    this.more.addEventListener('click', () => void this.page());
    replace(
      this.el,
      h('header', {}, h('h2', {}, t('dash.table.title')), this.count),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'rows' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...[
                '',
                t('dash.table.time'),
                t('dash.table.part'),
                t('dash.table.station'),
                t('dash.table.model'),
                t('dash.table.score'),
                t('dash.table.verdict'),
                t('dash.table.decidedBy'),
                t('dash.table.review'),
                '',
              ].map((text) => h('th', {}, text)),
            ),
          ),
          this.body,
        ),
      ),
      h('footer', {}, this.more),
    );
  }

  async load(query: URLSearchParams): Promise<void> {
    this.query = query;
    this.cursor = null;
    this.body.replaceChildren();
    await this.page(true);
  }

  private async page(first = false): Promise<void> {
    this.more.disabled = true;
    const q = new URLSearchParams(this.query);
    q.set('limit', '50');
    if (first) q.set('total', 'true');
    if (this.cursor) q.set('cursor', this.cursor);
    const page = await api<Page>('GET', `/api/inspections?${q.toString()}`);
    if (page.total !== null) this.count.textContent = tn('dash.table.match', page.total, { count: num(page.total) });
    for (const row of page.items) this.body.append(this.row(row));
    this.cursor = page.nextCursor;
    this.more.hidden = page.nextCursor === null;
    this.more.disabled = false;
  }

  private row(r: Row): HTMLTableRowElement {
    const top = r.findings[0];
    const tr = h(
      'tr',
      { 'data-testid': 'row', 'data-id': r.id, tabindex: 0 },
      h('td', { class: 'thumb' }, r.thumbnailUrl ? h('img', { src: `${r.thumbnailUrl}?width=96`, alt: '', loading: 'lazy', width: 96, height: 96 }) : h('span', { class: 'noimg' }, t('dash.table.noImage'))),
      h('td', {}, this.fmtTime(r.triggeredAt)),
      h('td', { class: 'mono' }, r.partId),
      h('td', {}, r.station),
      h('td', {}, verdictTag(r.modelVerdict), top && r.modelVerdict !== 'pass' ? h('small', {}, ` ${className(top.label)}`) : null),
      h('td', { class: 'num' }, r.defectScore === null ? '–' : num(r.defectScore, 3)),
      h('td', {}, verdictTag(r.state === 'error' ? 'error' : r.verdict), r.defectClass ? h('small', {}, ` ${className(r.defectClass)}`) : null),
      h('td', {}, r.decidedBy ? t(`decidedBy.${r.decidedBy}`) : '–'),
      h('td', {}, r.review ? `${r.review.operatorId ?? t('decidedBy.timeout')}${r.review.note ? ' ✎' : ''}` : ''),
      h(
        'td',
        {},
        r.audit ? h('span', { class: 'flag audit', title: t('dash.table.auditHint') }, t('dash.table.audit')) : null,
        r.overridden ? h('span', { class: 'flag over', title: t('dash.table.overriddenHint') }, t('dash.table.overridden')) : null,
      ),
    );
    tr.addEventListener('click', () => this.open(r));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.open(r);
    });
    return tr;
  }
}
