/**
 * A plain YAML string ends at ` #`: `blocked_message: ask #eng-budget to raise it` loads as "ask".
 * YAML is right, the author is surprised. Finds plain (unquoted) string values followed on their
 * line by a `#` glued to a word, which reads as text rather than as a comment (`# why`).
 */
import { isPair, isScalar, parseDocument, visit, Scalar } from 'yaml';

export interface CutString {
  /** Dotted key path, e.g. admin.blocked_message. */
  path: string;
  line: number;
  /** What the config loads. */
  value: string;
  /** What the line shows after the value, from the `#`. */
  cut: string;
}

export function commentCutStrings(source: string): CutString[] {
  const doc = parseDocument(source, { keepSourceTokens: false });
  const out: CutString[] = [];
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  visit(doc, {
    Pair(_key, pair, path) {
      if (!isScalar(pair.value) || pair.value.type !== Scalar.PLAIN || typeof pair.value.value !== 'string' || !pair.value.range) return;
      const end = pair.value.range[1];
      const nl = source.indexOf('\n', end);
      const rest = source.slice(end, nl === -1 ? undefined : nl);
      const m = /^\s+(#\S.*)$/.exec(rest);
      if (!m) return;
      const keys = [...path, pair]
        .filter(isPair)
        .map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
      const line = lineStarts.findIndex((s, i) => s <= end && (lineStarts[i + 1] ?? Infinity) > end) + 1;
      out.push({ path: keys.join('.'), line, value: pair.value.value, cut: m[1]!.trimEnd() });
    },
  });
  return out;
}
