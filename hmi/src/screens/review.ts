import { api } from '../api.js';
import type { App, Screen } from '../app.js';
import { PartView, type OverlayMode } from '../components/part-view.js';
import type { LocalDecision } from '../decisions.js';
import { h, replace } from '../dom.js';
import { duration, shortPart } from '../format.js';
import { className, t, tn, verdictWord } from '../i18n/index.js';
import { icon, stateIcon } from '../icons.js';
import { thumbnail } from '../thumbs.js';
import type { Claim, QueueItem, ReviewStation, Settled } from '../types.js';

/** A screen renews its claim on the part it shows this often (the gateway forgets claims after 20 s). */
const CLAIM_RENEW_MS = 8000;
/** Below this much time left the countdown turns urgent (word, colour and bar). */
const URGENT_MS = 20_000;
const FLASH_MS = 4000;
const OTHER = 'other';

interface Notice {
  kind: 'timeout' | 'other' | 'undone';
  text: string;
  at: number;
}

/**
 * The review screen: the oldest open part fills the screen; `Good` is one
 * tap, `Defect` + class two. A decision is held for the undo window, then
 * sent through the local outbox; the part leaves the queue at once, and the
 * feed on the right shows the decision until the gateway has it (and says
 * so plainly if another screen or the timeout got there first).
 */
export function reviewScreen(app: App): Screen {
  const stations = new Map<string, ReviewStation>();
  const queue = new Map<string, QueueItem>();
  let claims: Claim[] = [];
  let currentId: string | null = null;
  let pinnedId: string | null = null;
  let mode: 'main' | 'defect' = 'main';
  let noteOpen = false;
  let note = '';
  let overlay: OverlayMode = (localStorage.getItem('loupe.overlay') as OverlayMode | null) ?? 'heat';
  let notices: Notice[] = [];
  let flash: { text: string; until: number } | null = null;
  let claimTimer: number | undefined;
  let claimedId: string | null = null;
  let offsetMs = 0; // server clock minus ours, for waiting times

  const view = new PartView();
  view.setMode(overlay);
  const flashEl = h('div', { class: 'flash', role: 'alert', hidden: true, 'data-testid': 'flash' });
  const emptyEl = h('div', { class: 'stage-empty', hidden: true, 'data-testid': 'queue-empty' });
  const tools = h('div', { class: 'stage-tools' });
  const stageWrap = h('div', { class: 'stage-wrap' }, view.el, emptyEl, flashEl, tools, h('div', { class: 'stage-hint' }, t('review.zoomHint')));
  const side = h('section', { class: 'side', 'data-testid': 'side' });
  const queueEl = h('section', { class: 'queue', 'data-testid': 'queue' });
  const feed = h('section', { class: 'feed', 'data-testid': 'feed', 'aria-live': 'polite' });
  const el = h('div', { class: 'review-screen' }, stageWrap, side, h('div', { class: 'bottom' }, queueEl, feed));
  let zoomed = false;
  view.onZoomChange = (z) => {
    if (z !== zoomed) {
      zoomed = z;
      renderTools();
    }
  };

  // ---------- state from the gateway ----------
  const offs = [
    app.live.on('review.snapshot', (d) => {
      const snap = d as { stations: ReviewStation[]; items: QueueItem[]; claims: Claim[]; serverTime: string };
      stations.clear();
      snap.stations.forEach((s) => stations.set(s.id, s));
      queue.clear();
      snap.items.forEach((i) => queue.set(i.inspection.id, i));
      claims = snap.claims;
      offsetMs = Date.parse(snap.serverTime) - Date.now();
      update(true);
    }),
    app.live.on('review.added', (d) => {
      const item = d as QueueItem;
      if (app.station && item.inspection.station !== app.station) return;
      queue.set(item.inspection.id, item);
      preload(item);
      update();
    }),
    app.live.on('review.settled', (d) => onSettled(d as Settled)),
    app.live.on('review.claims', (d) => {
      claims = d as Claim[];
      update();
    }),
    app.outbox.onChange(() => {
      renderFeed();
      update();
    }),
    app.onSessionChange(() => {
      claim();
      update(true);
    }),
  ];
  const ticker = window.setInterval(() => {
    renderClocks();
    if (flash && Date.now() > flash.until) {
      flash = null;
      renderFlash();
    }
  }, 500);

  function onSettled(s: Settled): void {
    const had = queue.delete(s.inspectionId);
    const mine = app.outbox.all().some((d) => d.decisionId === s.decisionId);
    if (had && !mine) {
      const verdict = verdictLabel(s.verdict, s.defectClass);
      if (s.decidedBy === 'timeout') {
        notices = [{ kind: 'timeout' as const, text: t('settled.timeout', { part: shortPart(s.partId), verdict }), at: Date.now() }, ...notices].slice(0, 5);
        if (s.inspectionId === currentId) flash = { text: t('settled.timeoutCurrent', { verdict }), until: Date.now() + FLASH_MS };
      } else if (app.outbox.all().every((d) => d.inspectionId !== s.inspectionId)) {
        notices = [{ kind: 'other' as const, text: t('settled.byOther', { part: shortPart(s.partId), name: s.operatorName ?? s.operatorId ?? '?', verdict }), at: Date.now() }, ...notices].slice(0, 5);
      }
    }
    if (pinnedId === s.inspectionId) pinnedId = null;
    renderFeed();
    renderFlash();
    update();
  }

  // ---------- which part is current ----------
  function ordered(): QueueItem[] {
    const decided = app.outbox.openIds();
    return [...queue.values()].filter((i) => !decided.has(i.inspection.id)).sort((a, b) => (a.inspection.id < b.inspection.id ? -1 : 1));
  }

  function claimOf(id: string): Claim | undefined {
    return claims.find((c) => c.inspectionId === id && c.screenId !== app.session?.screenId);
  }

  function pick(): QueueItem | null {
    const items = ordered();
    const pinned = items.find((i) => i.inspection.id === pinnedId);
    if (pinned) return pinned;
    const free = items.filter((i) => !claimOf(i.inspection.id));
    return free.find((i) => i.inspection.id === currentId) ?? free[0] ?? null;
  }

  /** Re-render after any change; the side panel only when the part (or `force`) changes, so a note being typed keeps its focus. */
  function update(force = false): void {
    const item = pick();
    const id = item?.inspection.id ?? null;
    const changed = id !== currentId;
    if (changed) {
      currentId = id;
      mode = 'main';
      noteOpen = false;
      note = '';
      claim();
      for (const next of ordered().slice(0, 4)) preload(next);
    }
    view.show(item?.inspection ?? null);
    renderEmpty(item);
    if (changed || force) renderSide(item);
    renderQueue();
    renderTools();
  }

  function claim(): void {
    window.clearInterval(claimTimer);
    const previous = claimedId;
    claimedId = currentId;
    if (previous && previous !== currentId && app.session && !app.session.locked) {
      api('DELETE', `/api/review/claims/${encodeURIComponent(previous)}`).catch(() => undefined);
    }
    if (!currentId || !app.session || app.session.locked) return;
    const send = () => {
      if (!claimedId) return;
      api<{ claimed: boolean; heldBy: Claim | null }>('POST', '/api/review/claims', { inspectionId: claimedId }).then(
        (r) => {
          if (!r.claimed && r.heldBy && pinnedId !== r.heldBy.inspectionId) {
            claims = [...claims.filter((c) => c.inspectionId !== r.heldBy!.inspectionId), r.heldBy];
            update();
          }
        },
        () => undefined,
      );
    };
    send();
    claimTimer = window.setInterval(send, CLAIM_RENEW_MS);
  }

  // ---------- deciding ----------
  function decide(verdict: 'pass' | 'fail', defectClass: string | null): void {
    const item = pick();
    const s = app.session;
    if (!item || !s || s.locked) return;
    const i = item.inspection;
    app.outbox.add(
      { inspectionId: i.id, partId: i.partId, station: i.station, verdict, defectClass: verdict === 'fail' ? (defectClass ?? OTHER) : null, note: note.trim() || null, operatorId: s.operatorId },
      app.settings.undoWindowMs,
    );
    if (pinnedId === i.id) pinnedId = null;
    update();
  }

  function undo(): void {
    const d = app.outbox.undoLast();
    if (!d) return;
    if (queue.has(d.inspectionId)) pinnedId = d.inspectionId;
    notices = [{ kind: 'undone' as const, text: t('decision.undone', { part: shortPart(d.partId) }), at: Date.now() }, ...notices].slice(0, 5);
    update();
    renderFeed();
  }

  function labelsFor(station: string): string[] {
    return [...(stations.get(station)?.defectLabels ?? []).filter((l) => l !== OTHER), OTHER];
  }

  // ---------- rendering ----------
  function renderEmpty(item: QueueItem | null): void {
    emptyEl.hidden = item !== null;
    if (item) return;
    const claimed = ordered().filter((i) => claimOf(i.inspection.id));
    if (!app.session) {
      replace(emptyEl, icon('lock'), h('h2', {}, t('review.loginNeeded')));
    } else if (claimed.length > 0) {
      replace(
        emptyEl,
        icon('eye'),
        h('h2', {}, tn('review.allClaimed', claimed.length)),
        h('button', { class: 'btn primary', type: 'button', onclick: () => ((pinnedId = claimed[0]!.inspection.id), update()) }, t('review.takeOver')),
      );
    } else {
      replace(emptyEl, icon('check'), h('h2', {}, t('review.empty')), h('p', {}, t('review.emptyDetail')));
    }
  }

  function renderTools(): void {
    const seg = (m: OverlayMode, key: 'review.overlay.boxes' | 'review.overlay.heat' | 'review.overlay.off') =>
      h(
        'button',
        {
          class: `btn${overlay === m ? ' pressed' : ''}`,
          type: 'button',
          'aria-pressed': String(overlay === m),
          'data-overlay': m,
          onclick: () => {
            overlay = m;
            localStorage.setItem('loupe.overlay', m);
            view.setMode(m);
            renderTools();
          },
        },
        t(key),
      );
    tools.hidden = currentId === null;
    replace(
      tools,
      h('div', { class: 'seg', role: 'group', 'aria-label': t('review.overlay') }, seg('boxes', 'review.overlay.boxes'), seg('heat', 'review.overlay.heat'), seg('off', 'review.overlay.off')),
      zoomed ? h('button', { class: 'btn', type: 'button', onclick: () => view.resetZoom() }, icon('fit'), t('review.zoomReset')) : null,
    );
  }

  function renderSide(item: QueueItem | null): void {
    if (!item) {
      side.replaceChildren();
      return;
    }
    const i = item.inspection;
    const st = stations.get(i.station);
    const top = i.findings[0];
    const head = h(
      'div',
      { class: 'part-head' },
      h('span', { class: 'label' }, `${t('review.part')} · ${st?.name ?? i.station}`),
      h('span', { class: `part-id${i.partId.length > 16 ? ' long' : ''}`, 'data-testid': 'part-id' }, i.partId),
    );
    const model = h(
      'div',
      { class: 'model-box', 'data-testid': 'model-box' },
      h(
        'div',
        { class: 'row' },
        h('span', { class: `verdict-tag ${i.modelVerdict ?? 'error'}` }, stateIcon(i.modelVerdict ?? 'error'), verdictWord(i.modelVerdict)),
        h('span', { class: 'score' }, `${t('review.score')} ${i.defectScore === null ? '–' : i.defectScore.toFixed(2)}`),
      ),
      top ? h('span', { class: 'top' }, t('review.topClass', { label: className(top.label), score: `${Math.round(top.score * 100)} %` })) : null,
      // Part of the model box so it is never dropped for lack of room: the line already acted on this part.
      i.audit ? h('span', { class: 'audit-tag', 'data-testid': 'audit-tag' }, icon('eye'), ' ', t('review.auditTag')) : null,
    );
    const findings = h(
      'div',
      { class: 'findings' },
      ...i.findings.slice(0, 3).map((f) => {
        const bar = h('span', { class: 'bar' }, h('i'));
        (bar.firstChild as HTMLElement).style.width = `${Math.round(f.score * 100)}%`;
        return h('div', { class: 'finding' }, h('span', {}, className(f.label)), bar, h('b', {}, `${Math.round(f.score * 100)} %`));
      }),
    );
    const timer = h('div', { class: 'timer', 'data-testid': 'timer' });
    // Choosing a class needs the room: the model's detail goes first (fitSideInfo drops what does not fit).
    const info = mode === 'main' ? [head, timer, model, i.audit ? h('div', { class: 'audit' }, t('review.audit')) : null, findings] : [head, timer, model];
    const parts: (HTMLElement | null)[] = [h('div', { class: 'side-info' }, ...info)];
    const locked = !app.session || app.session.locked;
    if (mode === 'main') {
      parts.push(
        h(
          'div',
          { class: 'decide' },
          h('button', { class: 'big good', type: 'button', 'data-testid': 'good', disabled: locked, onclick: () => decide('pass', null) }, icon('check'), t('review.good').toUpperCase(), h('span', { class: 'key' }, 'G')),
          h('button', { class: 'big bad', type: 'button', 'data-testid': 'defect', disabled: locked, onclick: () => ((mode = 'defect'), renderSide(pick())) }, icon('cross'), t('review.defect').toUpperCase(), h('span', { class: 'key' }, 'D')),
        ),
      );
    } else {
      const labels = labelsFor(i.station);
      const noteInput = h('input', { type: 'text', maxlength: 200, placeholder: t('review.notePlaceholder'), value: note, 'data-testid': 'note' });
      noteInput.addEventListener('input', () => (note = noteInput.value));
      parts.push(
        h(
          'div',
          { class: 'decide classes', 'data-testid': 'classes' },
          h('h3', {}, t('review.chooseClass')),
          h(
            'div',
            { class: 'class-grid' },
            ...labels.map((label, n) =>
              h(
                'button',
                { class: 'class-btn', type: 'button', 'data-class': label, onclick: () => decide('fail', label) },
                h('span', { class: 'num' }, String(n + 1)),
                className(label),
                top?.label === label ? h('span', { class: 'sugg' }, t('review.modelSuggests')) : null,
              ),
            ),
          ),
          noteOpen ? h('div', { class: 'note-row' }, noteInput) : null,
          h(
            'div',
            { class: 'row-btns' },
            h('button', { class: 'btn', type: 'button', 'data-testid': 'back', onclick: () => ((mode = 'main'), renderSide(pick())) }, icon('back'), t('review.back'), h('span', { class: 'key' }, 'Esc')),
            noteOpen ? null : h('button', { class: 'btn', type: 'button', 'data-testid': 'add-note', onclick: () => ((noteOpen = true), renderSide(pick()), side.querySelector('input')?.focus()) }, icon('note'), t('review.addNote')),
          ),
        ),
      );
    }
    replace(side, ...parts);
    renderClocks();
    fitSideInfo();
  }

  /** Whatever does not fit whole above the buttons is left out (least important last), never shown cut in half. */
  function fitSideInfo(): void {
    const info = side.querySelector<HTMLElement>('.side-info');
    if (!info) return;
    const kids = [...info.children] as HTMLElement[];
    kids.forEach((k) => {
      k.style.visibility = '';
      k.classList.remove('compact');
    });
    const bottom = info.getBoundingClientRect().bottom;
    for (const k of kids) {
      if (k.getBoundingClientRect().bottom <= bottom + 1) continue;
      // The model's verdict and score matter more than its detail: try them on one line first.
      k.classList.add('compact');
      if (k.getBoundingClientRect().bottom > bottom + 1) k.style.visibility = 'hidden';
    }
  }
  const sideResize = new ResizeObserver(() => fitSideInfo());
  sideResize.observe(side);

  function renderClocks(): void {
    const item = currentId ? queue.get(currentId) : undefined;
    const timer = side.querySelector<HTMLElement>('[data-testid="timer"]');
    const now = Date.now() + offsetMs;
    if (item && timer) {
      const waited = now - Date.parse(item.inspection.triggeredAt);
      const st = stations.get(item.inspection.station);
      const left = item.deadlineAt ? Date.parse(item.deadlineAt) - now : null;
      const urgent = left !== null && left < URGENT_MS;
      timer.classList.toggle('urgent', urgent);
      const total = st?.timeoutMs ?? 120_000;
      // An audit sample that nobody judges keeps the model's verdict, not the station's safe one.
      const i = item.inspection;
      const safe = verdictWord(i.audit && i.modelVerdict && i.modelVerdict !== 'review' ? i.modelVerdict : (st?.safeVerdict ?? 'fail'));
      const bar = h('div', { class: 'progress' }, h('i'));
      (bar.firstChild as HTMLElement).style.width = `${left === null ? 0 : Math.max(0, Math.min(100, (left / total) * 100))}%`;
      replace(
        timer,
        h(
          'div',
          { class: 'row' },
          h('span', {}, icon('clock'), ' ', t('review.waited', { time: duration(waited) })),
          left !== null ? h('span', { class: 'left' }, urgent ? icon('warn') : null, ' ', t(urgent ? 'review.timesOutSoon' : 'review.timesOutIn', { verdict: safe, time: duration(left) })) : null,
        ),
        bar,
      );
    }
    for (const q of queueEl.querySelectorAll<HTMLElement>('[data-id]')) {
      const it = queue.get(q.dataset.id ?? '');
      if (!it) continue;
      const wait = q.querySelector('.wait');
      const left = it.deadlineAt ? Date.parse(it.deadlineAt) - now : Infinity;
      q.classList.toggle('urgent', left < URGENT_MS);
      if (wait) wait.textContent = duration(now - Date.parse(it.inspection.triggeredAt));
    }
  }

  function renderQueue(): void {
    const items = ordered();
    replace(
      queueEl,
      h(
        'div',
        { class: 'queue-head' },
        h('span', { class: 'count', 'data-testid': 'queue-count', 'data-count': items.length }, items.length ? tn('review.queue', items.length) : t('review.queueEmpty')),
      ),
      h(
        'div',
        { class: 'queue-list' },
        ...items.slice(0, 30).map((it) => {
          const i = it.inspection;
          const c = claimOf(i.id);
          return h(
            'button',
            {
              class: `q-item${i.id === currentId ? ' current' : ''}${c ? ' claimed' : ''}`,
              type: 'button',
              'data-id': i.id,
              'aria-current': i.id === currentId ? 'true' : null,
              onclick: () => ((pinnedId = i.id), update()),
            },
            i.imageUrl ? thumbnail(i.imageUrl, 160) : h('div', { class: 'noimg' }),
            h('b', {}, shortPart(i.partId)),
            h('span', { class: 'wait' }, ''),
            c ? h('span', { class: 'claim', title: t('review.claimedBy', { name: c.name }) }, icon('eye'), c.name) : null,
          );
        }),
      ),
    );
    renderClocks();
  }

  function renderFeed(): void {
    const mine = [...app.outbox.all()].filter((d) => d.operatorId === app.session?.operatorId || d.status !== 'saved').reverse();
    const rows: HTMLElement[] = [];
    for (const n of notices.filter((x) => Date.now() - x.at < 60_000).slice(0, 2)) {
      rows.push(h('div', { class: `feed-item ${n.kind === 'timeout' ? 'timeout' : 'notice'}`, 'data-testid': `notice-${n.kind}` }, icon(n.kind === 'timeout' ? 'clock' : n.kind === 'undone' ? 'undo' : 'eye'), h('span', { class: 'text' }, n.text)));
    }
    mine.slice(0, 4).forEach((d, n) => rows.push(feedRow(d, n === 0)));
    replace(feed, rows.length ? null : h('span', { class: 'feed-title' }, t('decision.recent')), ...rows.slice(0, 4));
  }

  function feedRow(d: LocalDecision, first: boolean): HTMLElement {
    const summary = t('decision.summary', { part: shortPart(d.partId), verdict: verdictLabel(d.verdict, d.defectClass) });
    let status: string;
    let ic = icon('spinner', 'spin');
    let action: HTMLElement | null = null;
    switch (d.status) {
      case 'held':
        status = t('decision.holding', { time: duration(Math.max(0, d.sendAfter - Date.now())) });
        ic = icon('clock');
        action = h('button', { class: 'btn', type: 'button', 'data-testid': 'undo', onclick: undo }, icon('undo'), t('decision.undo'), h('span', { class: 'key' }, 'U'));
        break;
      case 'sending':
        status = t('decision.sending');
        break;
      case 'waiting':
        status = d.waitingForLogin ? t('decision.waitingAuth', { id: d.operatorId }) : t('decision.waiting');
        ic = icon('upload');
        break;
      case 'saved':
        status = d.replay ? t('decision.replayed') : t('decision.saved');
        ic = icon('check');
        break;
      default:
        status = `${t('decision.refused')}: ${refusalText(d)}`;
        ic = icon('cross');
    }
    return h(
      'div',
      { class: `feed-item ${d.status}${first ? ' first' : ''}`, 'data-testid': 'feed-item', 'data-status': d.status, 'data-decision': d.decisionId },
      ic,
      h('span', { class: 'text' }, summary, h('small', { title: status }, status)),
      action,
    );
  }

  function renderFlash(): void {
    flashEl.hidden = !flash;
    if (flash) replace(flashEl, icon('clock'), flash.text);
  }

  // Held decisions count down in the feed.
  const feedTicker = window.setInterval(() => {
    if (app.outbox.all().some((d) => d.status === 'held')) renderFeed();
  }, 500);

  renderFeed();
  update(true);

  return {
    el,
    destroy() {
      offs.forEach((off) => off());
      window.clearInterval(ticker);
      window.clearInterval(feedTicker);
      window.clearInterval(claimTimer);
      view.destroy();
      sideResize.disconnect();
    },
    key(e) {
      const k = e.key.toLowerCase();
      if (k === 'u') return undo(), true;
      if (!currentId || !app.session || app.session.locked) return false;
      if (mode === 'main') {
        if (k === 'g') return decide('pass', null), true;
        if (k === 'd') return (mode = 'defect'), renderSide(pick()), true;
        return false;
      }
      if (k === 'escape') return (mode = 'main'), (noteOpen = false), renderSide(pick()), true;
      if (/^[1-9]$/.test(k)) {
        const label = labelsFor(queue.get(currentId)?.inspection.station ?? '')[Number(k) - 1];
        if (label) decide('fail', label);
        return true;
      }
      if (k === 'g') return decide('pass', null), true;
      return false;
    },
  };
}

function verdictLabel(verdict: 'pass' | 'fail', defectClass: string | null): string {
  return verdict === 'pass' ? t('verdict.pass') : `${t('verdict.fail')}${defectClass ? ` (${className(defectClass)})` : ''}`;
}

/** The second screen's message: who decided the part instead, and how. */
function refusalText(d: LocalDecision): string {
  const r = d.refusal;
  if (!r) return '';
  if (r.code === 'LOUPE_ERR_REVIEW_ALREADY_DECIDED') {
    const det = r.details as { decidedBy?: string; operatorName?: string; operatorId?: string; verdict?: 'pass' | 'fail'; defectClass?: string | null };
    const verdict = det.verdict ? verdictLabel(det.verdict, det.defectClass ?? null) : '?';
    if (det.decidedBy === 'timeout') return t('decision.alreadyTimeout', { part: shortPart(d.partId), verdict });
    if (det.operatorName || det.operatorId) return t('decision.alreadyBy', { part: shortPart(d.partId), name: det.operatorName ?? det.operatorId ?? '', verdict });
    return t('decision.alreadyUnknown', { part: shortPart(d.partId) });
  }
  return t('decision.invalid', { message: r.message });
}

const preloaded = new Set<string>();
/** Fetch the next parts' images ahead, so the screen never waits and they are cached if the link drops. */
function preload(item: QueueItem): void {
  const url = item.inspection.imageUrl;
  if (!url || preloaded.has(url)) return;
  preloaded.add(url);
  const img = new Image();
  img.src = url;
}

