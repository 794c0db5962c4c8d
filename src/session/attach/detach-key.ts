/**
 * Finding the detach key in what a person types. In raw mode Ctrl-\ arrives as one byte (0x1c);
 * an application that enabled the kitty keyboard protocol makes the terminal send it as
 * `CSI 92;5u` instead (the key's code point with the Ctrl modifier), which counts as well, or the
 * key would stop working inside such applications.
 */

/** The kitty-protocol form of a caret control key (`^\` -> `\x1b[92;5u`), if it has one. */
function kittyForm(key: number): RegExp | undefined {
  // ^@..^_ are Ctrl with @, a..z, [, \, ], ^, _ (letters reported in lower case); ^? has none.
  if (key > 0x1f) return undefined;
  const char = key + 0x40;
  const code = char >= 0x41 && char <= 0x5a ? char + 0x20 : char;
  return new RegExp(`\\x1b\\[${code}(?::\\d+)*;5(?::1)?u`);
}

/** Where the detach key starts in `data` and how long it is, or undefined. */
export function findDetachKey(data: Buffer, key: number): { at: number; length: number } | undefined {
  const byte = data.indexOf(key);
  const kitty = kittyForm(key);
  const match = kitty && data.includes(0x1b) ? kitty.exec(data.toString('latin1')) : null;
  if (match && (byte < 0 || match.index < byte)) return { at: match.index, length: match[0].length };
  return byte < 0 ? undefined : { at: byte, length: 1 };
}
