/**
 * A string as a PostgreSQL literal, for statements that must travel in one simple-protocol
 * message (which takes no parameters). Same output as pg.escapeLiteral, which builds its result
 * one character at a time: for an audit batch's JSON that was ~24 KB of garbage per row.
 */
export function sqlLiteral(s: string): string {
  const quoted = `'${s.replaceAll("'", "''")}'`;
  return s.includes('\\') ? ` E${quoted.replaceAll('\\', '\\\\')}` : quoted;
}
