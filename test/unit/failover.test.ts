import assert from 'node:assert/strict';
import { pickFinal, shouldFailOver } from '../../gateway-server/src/routing/failover';

describe('failover decisions', () => {
  it('fails over on 5xx, 429, 401, 403, 404 and 501 but not on other 4xx', () => {
    const table: [number, boolean][] = [
      [500, true], [502, true], [503, true], [529, true], [501, true], [429, true], [401, true], [403, true], [404, true],
      [400, false], [413, false], [422, false], [200, false],
    ];
    for (const [status, expected] of table) assert.equal(shouldFailOver(status), expected, String(status));
  });

  it('returns the last 429, else 401/403, else 404, else 501 when everything failed', () => {
    const s = (...statuses: number[]) => pickFinal(statuses.map((status, i) => ({ status, i })))?.i;
    assert.equal(s(500, 429, 503, 429, 404), 3);
    assert.equal(s(403, 500, 401, 404), 2);
    assert.equal(s(404, 500, 501), 0);
    assert.equal(s(500, 501), 1);
    assert.equal(s(500, 503), undefined);
  });
});
