/**
 * HTML by tagged template with escaping by default: every interpolated value is escaped unless
 * it is itself the result of `html` (already safe). Arrays are joined. There is no way to insert
 * raw text other than `trusted()`, used only for constant markup (the inline SVG charts build
 * their markup from numbers through `html` too). Pure: no Fastify.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeText(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function render(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeText(String(v));
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Constant markup written in this codebase (never data). */
export const trusted = (s: string) => new SafeHtml(s);
