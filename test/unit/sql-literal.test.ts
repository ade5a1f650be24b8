import assert from 'node:assert/strict';
import pg from 'pg';
import { sqlLiteral } from '../../gateway-server/src/store/sql-literal';

describe('sqlLiteral', () => {
  it('matches pg.escapeLiteral exactly, quotes and backslashes included', () => {
    const cases = ['', 'plain', "it's", "''", 'back\\slash', "both ' and \\", '{"a":"\\u0000 \' \\\\"}', 'ünïcode ✓', '\n\t'];
    for (const c of cases) assert.equal(sqlLiteral(c), pg.escapeLiteral(c), JSON.stringify(c));
  });
});
