/**
 * Scrollback by touch: a finger dragged over the terminal scrolls its scrollback line by line
 * (xterm's DOM renderer reacts to the wheel, not to touch). The page does not scroll meanwhile;
 * on a screen without scrollback (an agent on the alternate screen) the touch is left alone.
 */
import type { Terminal } from '@xterm/xterm';

export function attachTouchScroll(el: HTMLElement, term: Terminal): () => void {
  let lastY: number | undefined;
  let pending = 0;
  const start = (e: TouchEvent) => {
    lastY = e.touches.length === 1 ? e.touches[0]!.clientY : undefined;
    pending = 0;
  };
  const move = (e: TouchEvent) => {
    if (lastY === undefined || e.touches.length !== 1) return;
    if (term.buffer.active.baseY === 0) return;
    const y = e.touches[0]!.clientY;
    pending += y - lastY;
    lastY = y;
    const cell = el.clientHeight / Math.max(1, term.rows);
    const lines = Math.trunc(pending / cell);
    if (lines !== 0) {
      term.scrollLines(-lines);
      pending -= lines * cell;
    }
    e.preventDefault();
  };
  const end = () => {
    lastY = undefined;
  };
  el.addEventListener('touchstart', start, { passive: true, capture: true });
  el.addEventListener('touchmove', move, { passive: false, capture: true });
  el.addEventListener('touchend', end, { capture: true });
  el.addEventListener('touchcancel', end, { capture: true });
  return () => {
    el.removeEventListener('touchstart', start, { capture: true });
    el.removeEventListener('touchmove', move, { capture: true });
    el.removeEventListener('touchend', end, { capture: true });
    el.removeEventListener('touchcancel', end, { capture: true });
  };
}
