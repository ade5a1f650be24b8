import assert from 'node:assert/strict';
import { ifNoneMatchTags, paginate } from '../../gateway-server/src/policy/http-helpers';

describe('policy route helpers', () => {
  it('reads If-None-Match: quoted, weak, lists; * counts as absent', () => {
    assert.deepEqual(ifNoneMatchTags('"sha256:a"'), ['sha256:a']);
    assert.deepEqual(ifNoneMatchTags('W/"sha256:a", "sha256:b"'), ['sha256:a', 'sha256:b']);
    assert.deepEqual(ifNoneMatchTags('*'), []);
    assert.deepEqual(ifNoneMatchTags(undefined), []);
    assert.deepEqual(ifNoneMatchTags(['"x"', '"y"']), ['x', 'y']);
  });

  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
  const ids = (r: { page: { id: string }[]; hasMore: boolean }) => [r.page.map((x) => x.id).join(''), r.hasMore];
  const cases: [string, Parameters<typeof paginate>[1], [string, boolean]][] = [
    ['first page', { limit: 2 }, ['ab', true]],
    ['everything', { limit: 1000 }, ['abcde', false]],
    ['after_id', { limit: 2, after_id: 'b' }, ['cd', true]],
    ['after_id, last page', { limit: 5, after_id: 'c' }, ['de', false]],
    ['before_id pages backward', { limit: 2, before_id: 'e' }, ['cd', true]],
    ['before_id, first page', { limit: 5, before_id: 'c' }, ['ab', false]],
    ['after_id and before_id', { limit: 5, after_id: 'a', before_id: 'd' }, ['bc', false]],
    ['unknown cursor', { limit: 5, after_id: 'zz' }, ['', false]],
  ];
  for (const [name, q, expected] of cases) it(`paginates: ${name}`, () => assert.deepEqual(ids(paginate(items, q)), expected));
});
