/** Duplicate keys in JSON text: JSON.parse keeps one silently, so lines are scanned as text. */

/** Keys that occur more than once in one object, at any depth, as `path.key`. */
export function duplicateKeys(line: string): string[] {
  const dups: string[] = [];
  const stack: Array<Set<string> | null> = [];
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      let k = j + 1;
      while (line[k] === ' ') k++;
      if (line[k] === ':' && top) {
        const key = line.slice(i + 1, j);
        if (top.has(key)) dups.push(key);
        top.add(key);
      }
      i = j;
    } else if (ch === '{') stack.push(new Set());
    else if (ch === '[') stack.push(null);
    else if (ch === '}' || ch === ']') stack.pop();
  }
  return dups;
}
