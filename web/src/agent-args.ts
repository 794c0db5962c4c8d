/**
 * The start form's agent-arguments field: one line split into words as a POSIX shell splits
 * them (whitespace separates, single quotes are literal, double quotes allow \" and \\, a
 * backslash escapes the next character), without any expansion: `--model "opus 4" -v` is three
 * words. The runner's own splitter (settings.json commands) follows the same rules.
 */
export function splitAgentArgs(line: string): { ok: true; args: string[] } | { ok: false; error: string } {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) return { ok: false, error: `unterminated ${quote} quote in the agent arguments` };
  if (inWord) words.push(word);
  return { ok: true, args: words };
}
