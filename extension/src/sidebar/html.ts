/**
 * The sidebar's HTML shell. Strict CSP: nothing but our own script (by nonce), our stylesheets
 * and fonts from the extension's dist folder; no inline handlers, no remote content. Pure.
 */
export function sidebarHtml(o: { nonce: string; cspSource: string; scriptUri: string; styleUri: string; codiconsUri: string }): string {
  const csp = [
    "default-src 'none'",
    `style-src ${o.cspSource}`,
    `font-src ${o.cspSource}`,
    `img-src ${o.cspSource}`,
    `script-src 'nonce-${o.nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${o.codiconsUri}" rel="stylesheet">
<link href="${o.styleUri}" rel="stylesheet">
<title>Tollgate</title>
</head>
<body>
<p id="live" class="sr-only" role="status" aria-live="polite" aria-atomic="true"></p>
<main id="app"><p class="muted">Loading…</p></main>
<script nonce="${o.nonce}" src="${o.scriptUri}"></script>
</body>
</html>`;
}
