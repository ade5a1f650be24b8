/** The wire contract shared by the gateway, the extension and the webview. */
export * from './oauth';
export * from './usage';
export * from './settings';
export * from './errors';
export * from './spend-limits';
export * from './models';
export * from './me';
export * from './desktop';
export * from './audit';
export * from './upstreams';
export * from './codex';
