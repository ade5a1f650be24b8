/** The words of the sign-in code modal. Pure: no `vscode`. */
export const COPY_AND_OPEN = 'Copy Code and Open Browser';

export function codePrompt(gatewayUrl: string, userCode: string, loginNotice?: string): { message: string; detail: string } {
  let host = gatewayUrl;
  try {
    host = new URL(gatewayUrl).host;
  } catch {
    /* shown as given */
  }
  return {
    message: `Sign in to Tollgate at ${host}`,
    detail: `Your one-time code is ${userCode}. It is copied when you continue; check that the page in your browser shows the same code, then sign in with your company account.${loginNotice ? ` ${loginNotice}` : ''}`,
  };
}
