/**
 * Keeps a full-screen box inside the visual viewport. When a phone's soft keyboard opens, the
 * visual viewport shrinks (and on iOS the layout viewport scrolls under it); sizing the box to
 * it keeps the key bar and composer right above the keyboard and the terminal's top in place,
 * instead of the page jumping. Sizes are set through the CSSOM, which the CSP allows.
 */
import { useEffect } from 'preact/hooks';

export function useVisualViewport(box: { current: HTMLElement | null }): void {
  useEffect(() => {
    const vv = window.visualViewport;
    const el = box.current;
    if (!vv || !el) return;
    let frame = 0;
    const place = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        el.style.height = `${Math.round(vv.height)}px`;
        el.style.transform = `translateY(${Math.round(vv.offsetTop)}px)`;
      });
    };
    place();
    vv.addEventListener('resize', place);
    vv.addEventListener('scroll', place);
    return () => {
      cancelAnimationFrame(frame);
      vv.removeEventListener('resize', place);
      vv.removeEventListener('scroll', place);
    };
  }, []);
}
