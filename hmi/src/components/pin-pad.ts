import { h, replace } from '../dom.js';
import { t } from '../i18n/index.js';
import { icon } from '../icons.js';

/**
 * A keypad for the PIN with buttons a gloved finger hits: 3 x 4, 80 px high.
 * A hardware keyboard works too (digits, Backspace, Enter).
 */
export class PinPad {
  readonly el: HTMLElement;
  private value = '';
  private readonly dots: HTMLElement;

  constructor(
    private readonly onSubmit: (pin: string) => void,
    private readonly submitLabel: string,
  ) {
    this.dots = h('div', { class: 'pin-dots', 'aria-live': 'polite', 'data-testid': 'pin-dots' });
    const key = (d: string) => h('button', { class: 'btn', type: 'button', 'data-key': d, onclick: () => this.press(d) }, d);
    this.el = h(
      'div',
      { class: 'pinpad-wrap' },
      this.dots,
      h(
        'div',
        { class: 'pinpad', style: null },
        ...['1', '2', '3', '4', '5', '6', '7', '8', '9'].map(key),
        h('button', { class: 'btn', type: 'button', 'aria-label': t('pin.delete'), onclick: () => this.back() }, icon('back')),
        key('0'),
        h('button', { class: 'btn primary', type: 'button', 'data-testid': 'pin-submit', onclick: () => this.submit() }, this.submitLabel),
      ),
    );
    this.render();
  }

  /** Keys from a hardware keyboard; true when used. */
  key(e: KeyboardEvent): boolean {
    if (/^\d$/.test(e.key)) this.press(e.key);
    else if (e.key === 'Backspace') this.back();
    else if (e.key === 'Enter') this.submit();
    else return false;
    return true;
  }

  clear(): void {
    this.value = '';
    this.render();
  }

  private press(d: string): void {
    if (this.value.length < 12) this.value += d;
    this.render();
  }

  private back(): void {
    this.value = this.value.slice(0, -1);
    this.render();
  }

  private submit(): void {
    if (this.value.length > 0) this.onSubmit(this.value);
  }

  private render(): void {
    replace(this.dots, this.value.length ? '●'.repeat(this.value.length) : '', h('span', { class: 'sr-only' }, t('pin.digits', { count: this.value.length })));
  }
}
