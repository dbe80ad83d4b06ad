import { h } from './dom.js';

/**
 * A small picture of a part for strips and queues: the gateway's scaled
 * thumbnail, else the full frame, else an empty box (no login on a wall
 * display, or the image was pruned).
 */
export function thumbnail(imageUrl: string, widthPx: number, alt = ''): HTMLElement {
  const small = imageUrl.replace(/\/image$/, `/thumbnail?width=${widthPx}&overlay=false`);
  const img = h('img', { src: small, alt, loading: 'lazy', draggable: 'false' });
  img.addEventListener('error', () => {
    if (img.src.endsWith(imageUrl)) img.replaceWith(h('div', { class: 'noimg' }));
    else img.src = imageUrl;
  });
  return img;
}
