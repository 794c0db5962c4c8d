// An esbuild plugin for the web page: xterm's DOM renderer creates <style> elements and sets
// style attributes, which the hub's Content-Security-Policy blocks (style-src 'self'). This
// rewrites exactly those places in @xterm/xterm's bundle to call web/src/terminal/csp-style.ts
// (a constructable stylesheet and the CSSOM, which the policy allows). The build fails when
// xterm's code no longer has the expected shape, so an xterm update cannot silently undo it.
import { readFileSync } from 'node:fs';

const STYLE_ELEMENTS = /([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\.createElement\("style"\)/g;
const ADD_STYLE = /_addStyle\((\w),(\w)\)\{\1\.setAttribute\("style",`\$\{\1\.getAttribute\("style"\)\|\|""\}\$\{\2\};`\)\}/g;
/** How many of each the xterm version in package.json has (viewport, dimensions, theme; one row factory). */
const EXPECTED = { styleElements: 3, addStyle: 1 };

export function xtermCspPlugin(shimPath) {
  return {
    name: 'xterm-csp',
    setup(build) {
      build.onLoad({ filter: /[\\/]@xterm[\\/]xterm[\\/]lib[\\/]xterm\.mjs$/ }, (args) => {
        let source = readFileSync(args.path, 'utf8');
        let styleElements = 0;
        let addStyle = 0;
        source = source.replace(STYLE_ELEMENTS, (_m, doc) => {
          styleElements += 1;
          return `__hapiCspStyleElement(${doc})`;
        });
        source = source.replace(ADD_STYLE, (_m, el, rule) => {
          addStyle += 1;
          return `_addStyle(${el},${rule}){__hapiCspAddStyle(${el},${rule})}`;
        });
        if (styleElements !== EXPECTED.styleElements || addStyle !== EXPECTED.addStyle) {
          throw new Error(
            `xterm-csp: expected ${EXPECTED.styleElements} <style> elements and ${EXPECTED.addStyle} _addStyle in ${args.path}, ` +
              `found ${styleElements} and ${addStyle}: check the inline styles of this xterm version against the CSP`,
          );
        }
        const header = `import { cspStyleElement as __hapiCspStyleElement, cspAddStyle as __hapiCspAddStyle } from ${JSON.stringify(shimPath)};\n`;
        return { contents: header + source, loader: 'js' };
      });
    },
  };
}
