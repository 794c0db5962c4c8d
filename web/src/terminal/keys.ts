/**
 * What the key bar sends: the keys a phone keyboard lacks, as the bytes a terminal sends for
 * them. Pure functions (unit-tested in Node).
 */

export type BarKey = 'esc' | 'tab' | 'shift-tab' | 'ctrl-c' | 'up' | 'down' | 'left' | 'right' | 'enter';

/** Arrow keys follow the application's cursor-key mode (DECCKM), as a real terminal does. */
export function barKeyBytes(key: BarKey, applicationCursor: boolean): string {
  const csi = applicationCursor ? '\x1bO' : '\x1b[';
  switch (key) {
    case 'esc':
      return '\x1b';
    case 'tab':
      return '\t';
    case 'shift-tab':
      return '\x1b[Z';
    case 'ctrl-c':
      return '\x03';
    case 'up':
      return `${csi}A`;
    case 'down':
      return `${csi}B`;
    case 'right':
      return `${csi}C`;
    case 'left':
      return `${csi}D`;
    case 'enter':
      return '\r';
  }
}

/**
 * The sticky Ctrl applied to what was typed next: a letter or one of @[\]^_ becomes its control
 * character (Ctrl-A is 0x01), `?` becomes DEL, space becomes NUL; anything else is sent as it is.
 * Only the first character is combined, as a keyboard's Ctrl would.
 */
export function withCtrl(data: string): string {
  if (data.length === 0) return data;
  const first = data[0]!;
  const rest = data.slice(1);
  const upper = first.toUpperCase();
  const code = upper.charCodeAt(0);
  if (upper.length === 1 && code >= 0x40 && code <= 0x5f) return String.fromCharCode(code & 0x1f) + rest;
  if (first === '?') return '\x7f' + rest;
  if (first === ' ') return '\x00' + rest;
  return data;
}
