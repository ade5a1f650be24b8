/** Issue 19 items 6/7: one small live region that speaks only on change, one time format, no inline styles. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sidebarHtml } from '../../extension/src/sidebar/html';
import { TollgateState } from '../../extension/src/platform/state';
import { sessionFromTokens } from '../../extension/src/auth/session';
import { Announcer, statusSentence } from '../../webview/src/views/live';
import { localTime } from '../../extension/src/status/time';
import { blockFromReply } from '../../extension/src/status/block';

describe('extension accessibility and wording', () => {
  it('the sidebar is not one live region: only the status line is, politely', () => {
    const html = sidebarHtml({ nonce: 'n', cspSource: 'vscode-resource:', scriptUri: 's', styleUri: 'c', codiconsUri: 'i' });
    assert.equal((html.match(/aria-live=/g) ?? []).length, 1);
    assert.match(html, /<p id="live" class="sr-only" role="status" aria-live="polite" aria-atomic="true"><\/p>/);
    assert.match(html, /<main id="app">/);
  });

  it('announces the status sentence on change only, never on the minute redraw', () => {
    const state = new TollgateState('http://gw.test');
    state.session = sessionFromTokens('http://gw.test', { access_token: 'a.b.c', token_type: 'Bearer' }, Date.now());
    state.usage = null;
    const a = new Announcer();
    assert.equal(a.next(state.sidebar()), undefined, 'first render is loading, not news');
    for (let i = 0; i < 5; i++) assert.equal(a.next(state.sidebar()), undefined, 'the same state redrawn says nothing');
    state.block = blockFromReply(400, { type: 'invalid_request_error', message: 'model is not allowed' }, new Date());
    assert.equal(a.next(state.sidebar()), 'Tollgate: blocked. Model is not allowed.');
    assert.equal(a.next(state.sidebar()), undefined);
    state.block = undefined;
    assert.equal(a.next(state.sidebar()), statusSentence(state.sidebar()));
  });

  it('shows every time in local time with the zone named', () => {
    const now = new Date('2026-11-27T10:00:00Z');
    assert.equal(localTime('2026-11-28T00:00:00Z', now, 'UTC'), 'Nov 28 00:00 UTC');
    assert.equal(localTime('2026-11-27T18:30:00Z', now, 'UTC'), '18:30 UTC');
    assert.equal(localTime('2026-11-28T00:00:00Z', now, 'America/New_York'), '19:00 EST', 'same day in New York');
    assert.equal(localTime('2026-11-29T00:00:00Z', now, 'America/New_York'), 'Nov 28 19:00 EST');
    assert.equal(localTime('not a date', now), '');
  });

  it('the webview sets no style attribute (its CSP forbids inline styles)', () => {
    for (const f of ['spend', 'policy', 'account', 'activity', 'dom']) {
      assert.doesNotMatch(readFileSync(`webview/src/views/${f}.ts`, 'utf8'), /\bstyle:\s*['"`]/, f);
    }
  });
});
