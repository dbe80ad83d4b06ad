import { api, ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { num, percent } from '../format.js';
import { t, tn, tOr } from '../i18n/index.js';
import type { ModelEvent, ModelPackage, ModelRef, ShadowReport, StationModels, StationStatus } from './types.js';

/** History entries shown per station; the API keeps them all. */
const HISTORY_SHOWN = 5;

/** Actions after which the active model is the event's model. */
const SWITCHES = new Set(['promote', 'rollback']);

interface Notice {
  ok: boolean;
  text: string;
}

interface Candidate {
  modelId: string;
  version: string;
  sha256: string;
}

const refLabel = (r: ModelRef | null) => (r === null ? '–' : `${r.modelId ?? t('dash.models.configured')}@${r.version ?? '?'}${r.source === 'config' ? ` ${t('dash.models.configTag')}` : ''}`);
const parts = (n: number) => tn('dash.models.parts', n, { count: num(n) });
const sha = (s: string | null) => (s ? s.slice(0, 12) : '–');
const sameRef = (a: ModelRef | null, b: ModelRef) => a !== null && a.source === b.source && a.modelId === b.modelId && a.version === b.version;

/**
 * Models per station (docs/model-lifecycle.md): what runs, the shadow
 * candidate and its report, the latest history, and the two actions an
 * engineer takes from here, promote and roll back, each with a reason.
 */
export class ModelsPanel {
  readonly el = h('section', { class: 'panel models-panel', 'data-testid': 'models' });
  private readonly cards = h('div', { class: 'model-cards' });

  constructor(
    private readonly fmtTime: (iso: string) => string,
    private readonly onError: (err: unknown) => void,
  ) {
    replace(this.el, h('header', {}, h('h2', {}, t('dash.models.title')), h('span', { class: 'muted' }, t('dash.models.sub'))), this.cards);
  }

  async load(): Promise<void> {
    try {
      const [stations, packages] = await Promise.all([api<StationStatus[]>('GET', '/api/stations'), api<ModelPackage[]>('GET', '/api/models')]);
      const cards = stations.map((s) => new StationModelsCard(s, packages, this.fmtTime, this.onError));
      replace(this.cards, cards.map((c) => c.el));
      await Promise.all(cards.map((c) => c.refresh()));
    } catch (err) {
      this.onError(err);
    }
  }
}

class StationModelsCard {
  readonly el: HTMLElement;

  constructor(
    private readonly status: StationStatus,
    private packages: ModelPackage[],
    private readonly fmtTime: (iso: string) => string,
    private readonly onError: (err: unknown) => void,
  ) {
    this.el = h('article', { class: 'model-card', 'data-station': status.id, 'data-testid': `models-${status.id}` }, h('h3', {}, status.id), h('p', { class: 'muted' }, t('dash.models.loading')));
  }

  async refresh(notice: Notice | null = null): Promise<void> {
    const id = encodeURIComponent(this.status.id);
    try {
      const [state, history, report, packages] = await Promise.all([
        api<StationModels>('GET', `/api/models/${id}`),
        api<ModelEvent[]>('GET', `/api/models/${id}/history?limit=50`),
        // No shadow run yet is an ordinary state, not an error.
        api<ShadowReport>('GET', `/api/models/${id}/shadow/report`).catch((err: unknown) => {
          if (err instanceof ApiError && err.status === 404) return null;
          throw err;
        }),
        api<ModelPackage[]>('GET', '/api/models'),
      ]);
      this.packages = packages;
      this.render(state, history, report, notice);
    } catch (err) {
      this.onError(err);
    }
  }

  /** The shadow run's package, else the newest run's, else the newest registered package the station does not run. */
  private candidate(state: StationModels, report: ShadowReport | null): Candidate | null {
    const find = (modelId: string, version: string) => this.packages.find((p) => p.modelId === modelId && p.version === version);
    const pick = state.shadow ? find(state.shadow.modelId, state.shadow.version) : report ? find(report.candidate.modelId, report.candidate.version) : undefined;
    const fallback = this.packages.find((p) => !p.activeOn.includes(state.station) && !(state.active.source === 'registry' && state.active.modelId === p.modelId && state.active.version === p.version));
    const p = pick && !pick.activeOn.includes(state.station) ? pick : fallback;
    return p ? { modelId: p.modelId, version: p.version, sha256: p.sha256 } : null;
  }

  private render(state: StationModels, history: ModelEvent[], report: ShadowReport | null, notice: Notice | null): void {
    const active = state.active;
    const model = active.modelId === null ? { ...active, modelId: this.status.model.id, version: this.status.model.version, sha256: this.status.model.sha256 } : active;
    const since = history.find((e) => SWITCHES.has(e.action) && sameRef(e.model, active));
    const candidate = this.candidate(state, report);
    const reportFor = report && candidate && report.candidate.modelId === candidate.modelId && report.candidate.version === candidate.version ? report : null;
    const actions = h('div', { class: 'model-actions' });
    const result = h('div', { class: 'model-result', role: 'status', 'data-testid': 'model-result' });
    if (notice) replace(result, h('p', { class: notice.ok ? 'ok' : 'error' }, notice.text));

    const fact = (label: string, ...value: (string | HTMLElement)[]) => [h('dt', {}, label), h('dd', {}, ...value)];
    const promote = h('button', { class: 'btn primary', type: 'button', disabled: candidate === null, 'data-testid': 'model-promote' }, t('dash.models.promote'));
    const rollback = h(
      'button',
      { class: 'btn', type: 'button', disabled: state.rollbackTo === null, title: state.rollbackTo ? t('dash.models.rollbackHint', { model: refLabel(state.rollbackTo) }) : t('dash.models.noRollback'), 'data-testid': 'model-rollback' },
      t('dash.models.rollback'),
    );
    const buttons = h('div', { class: 'model-buttons' }, promote, rollback);
    promote.addEventListener('click', () => candidate && this.ask(actions, buttons, 'promote', candidate, reportFor));
    rollback.addEventListener('click', () => this.ask(actions, buttons, 'rollback', state.rollbackTo, null));
    replace(actions, buttons);

    replace(
      this.el,
      h('h3', {}, state.station, state.inControl ? null : h('span', { class: 'flag over' }, t('dash.models.inControl'))),
      state.problem ? h('p', { class: 'error' }, state.problem) : null,
      h(
        'div',
        { class: 'model-body' },
        h(
          'div',
          { class: 'model-facts', 'data-testid': 'model-active' },
          h('h4', {}, t('dash.models.active')),
          h(
            'dl',
            {},
            fact(
              t('dash.models.model'),
              h('b', { 'data-testid': 'model-active-version' }, `${model.modelId ?? '?'}@${model.version ?? '?'}`),
              active.source === 'config' ? h('span', { class: 'muted' }, ` ${t('dash.models.fromConfig')}`) : '',
            ),
            fact('sha256', h('span', { class: 'mono' }, sha(model.sha256))),
            fact(t('dash.models.since'), since ? this.fmtTime(since.at) : t('dash.models.startUp')),
            fact(t('dash.models.by'), since ? `${since.actor}: ${since.reason}` : t('dash.models.configuration')),
            fact(t('dash.models.rollsBackTo'), refLabel(state.rollbackTo)),
          ),
        ),
        h(
          'div',
          { class: 'model-facts', 'data-testid': 'model-candidate' },
          h('h4', {}, t('dash.models.candidate')),
          candidate
            ? h(
                'dl',
                {},
                fact(t('dash.models.model'), h('b', {}, `${candidate.modelId}@${candidate.version}`), state.shadow ? h('span', { class: 'flag audit' }, t('dash.models.shadowing')) : ''),
                fact('sha256', h('span', { class: 'mono' }, sha(candidate.sha256))),
                ...(reportFor
                  ? [
                      fact(t('dash.models.shadowed'), `${parts(reportFor.parts)}${reportFor.running ? ` ${t('dash.models.running')}` : ''}`),
                      fact(t('dash.models.agreement'), reportFor.agreement.share === null ? '–' : `${percent(reportFor.agreement.share, 1)} (${parts(reportFor.agreement.same)})`),
                      fact(
                        t('dash.models.withOperators'),
                        reportFor.confirmed.parts === 0
                          ? t('dash.models.noConfirmed')
                          : t('dash.models.confirmed', { candidate: num(reportFor.confirmed.candidate.correct), active: num(reportFor.confirmed.active.correct), parts: num(reportFor.confirmed.parts) }),
                      ),
                      fact(
                        t('dash.models.gate'),
                        h('span', { class: `tag ${reportFor.gate.ok ? 'pass' : 'fail'}`, 'data-testid': 'model-gate' }, reportFor.gate.ok ? t('dash.models.gatePassed') : t('dash.models.gateNotPassed')),
                        reportFor.gate.ok ? '' : h('small', { class: 'muted gate-why' }, reportFor.gate.reasons.join('; ')),
                      ),
                    ]
                  : fact(t('dash.models.shadow'), h('span', { class: 'muted' }, t('dash.models.noShadow')))),
              )
            : h('p', { class: 'muted' }, t('dash.models.noCandidate')),
        ),
        h(
          'div',
          { class: 'model-facts' },
          h('h4', {}, t('dash.models.history')),
          history.length === 0
            ? h('p', { class: 'muted' }, t('dash.models.noHistory'))
            : h(
                'ol',
                { class: 'history', 'data-testid': 'model-history' },
                history
                  .slice(0, HISTORY_SHOWN)
                  .map((e) => h('li', {}, h('time', { datetime: e.at }, this.fmtTime(e.at)), h('b', {}, tOr(`dash.models.action.${e.action}`, e.action)), ` ${refLabel(e.model)} · ${e.actor}: ${e.reason}`)),
              ),
        ),
      ),
      actions,
      result,
    );
  }

  /** The inline confirmation: a required reason (and, for a promotion, force), then one call. */
  private ask(slot: HTMLElement, buttons: HTMLElement, action: 'promote' | 'rollback', target: Candidate | ModelRef | null, report: ShadowReport | null): void {
    const what =
      action === 'promote' ? t('dash.models.promoteTo', { model: `${target?.modelId ?? '?'}@${target?.version ?? '?'}` }) : t('dash.models.rollbackTo', { model: refLabel(target as ModelRef | null) });
    const reason = h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500, placeholder: t('dash.models.reasonPlaceholder'), 'data-testid': 'model-reason' });
    const force = h('input', { type: 'checkbox', name: 'force', 'data-testid': 'model-force' });
    const error = h('span', { class: 'error', role: 'alert' });
    const confirm = h('button', { class: 'btn primary', type: 'submit', 'data-testid': 'model-confirm' }, `${what}`);
    const form = h(
      'form',
      { class: 'model-confirm', 'data-testid': 'model-form' },
      h('label', { class: 'field reason' }, t('dash.models.reason'), reason),
      action === 'promote' ? h('label', { class: 'check', title: t('dash.models.forceHint') }, force, report?.gate.ok ? t('dash.models.force') : t('dash.models.forceGate')) : null,
      confirm,
      h('button', { class: 'btn', type: 'button', 'data-testid': 'model-cancel', onclick: () => replace(slot, buttons) }, t('dash.models.cancel')),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const why = reason.value.trim();
      if (why.length < 3) {
        error.textContent = t('dash.models.reasonTooShort');
        reason.focus();
        return;
      }
      confirm.disabled = true;
      const id = encodeURIComponent(this.status.id);
      const call =
        action === 'promote' && target
          ? api<StationModels>('POST', `/api/models/${id}/promote`, { modelId: target.modelId, version: target.version, reason: why, force: force.checked })
          : api<StationModels>('POST', `/api/models/${id}/rollback`, { reason: why });
      call.then(
        (s) => void this.refresh({ ok: true, text: t(action === 'promote' ? 'dash.models.promoted' : 'dash.models.rolledBack', { model: refLabel(s.active) }) }),
        (err: unknown) => {
          if (err instanceof ApiError && err.status === 401) return this.onError(err);
          void this.refresh({ ok: false, text: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) });
        },
      );
    });
    replace(slot, form);
    reason.focus();
  }
}
