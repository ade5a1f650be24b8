/** Pure helpers of the policy routes: conditional GET and Anthropic-style list paging. */

/** Entity tags listed in If-None-Match, unquoted, weak prefix dropped (RFC 9110 §13.1.2 weak comparison). `*` means "absent" here. */
export function ifNoneMatchTags(header: string | string[] | undefined): string[] {
  const raw = Array.isArray(header) ? header.join(',') : header;
  if (!raw) return [];
  return raw
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .filter((t) => t && t !== '*')
    .map((t) => t.replace(/^"(.*)"$/, '$1'));
}

/** Anthropic list paging: `after_id` pages forward, `before_id` backward; an unknown cursor yields an empty page. */
export function paginate<T extends { id: string }>(
  items: readonly T[],
  q: { limit: number; after_id?: string; before_id?: string },
): { page: T[]; hasMore: boolean } {
  let list = items.slice();
  if (q.after_id !== undefined) {
    const i = list.findIndex((m) => m.id === q.after_id);
    list = i < 0 ? [] : list.slice(i + 1);
  }
  if (q.before_id !== undefined) {
    const i = list.findIndex((m) => m.id === q.before_id);
    list = i < 0 ? [] : list.slice(0, i);
    if (q.after_id === undefined) return { page: list.slice(-q.limit), hasMore: list.length > q.limit };
  }
  return { page: list.slice(0, q.limit), hasMore: list.length > q.limit };
}
