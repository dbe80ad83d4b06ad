import { api } from './api.js';
import { h } from './dom.js';
import { t } from './i18n/index.js';
import type { HmiSettings } from './types.js';

/**
 * The gateway's settings for its pages (the HMI and the engineer dashboard),
 * asked for once before anything else; until it answers, say so in `root` and retry.
 */
export async function loadSettings(root: HTMLElement): Promise<HmiSettings> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api<HmiSettings>('GET', '/api/hmi');
    } catch {
      root.replaceChildren(h('div', { class: 'center' }, h('div', { class: 'banner offline', role: 'alert' }, t('conn.lost'))));
      await new Promise((r) => setTimeout(r, Math.min(5000, 500 * (attempt + 1))));
    }
  }
}
