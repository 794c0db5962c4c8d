/**
 * xterm's DOM renderer writes its rules (colours, cell sizes, scrollbars) into `<style>`
 * elements and truecolour cells into `style` attributes, both of which the hub's
 * Content-Security-Policy (`style-src 'self'`, no 'unsafe-inline') blocks. Instead of weakening
 * the policy, scripts/build-web.mjs rewrites those few places in xterm's bundle to call this:
 * the rules go into a constructable stylesheet adopted by the document (CSSOM, which the policy
 * allows), held by an inert, hidden element that xterm appends, fills and removes as before.
 */

/** Stands in for `doc.createElement("style")` in xterm. */
export function cspStyleElement(doc: Document): HTMLElement {
  const el = doc.createElement('hapi-style');
  el.hidden = true;
  const sheet = new CSSStyleSheet();
  let text = '';
  let adopted = false;
  Object.defineProperty(el, 'textContent', {
    configurable: true,
    get: () => text,
    set: (value: string | null) => {
      text = value ?? '';
      sheet.replaceSync(text);
      if (!adopted) {
        adopted = true;
        doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
      }
    },
  });
  const remove = el.remove.bind(el);
  el.remove = () => {
    remove();
    if (adopted) doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
    adopted = false;
  };
  return el;
}

/** Stands in for xterm's `el.setAttribute("style", old + rule)`: the same through the CSSOM. */
export function cspAddStyle(el: HTMLElement, rule: string): void {
  el.style.cssText += `${rule};`;
}
