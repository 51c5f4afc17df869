/** A minimal scripted "browser" for the emulator's authorize page: GET, fill forms, follow redirects. */

function unescapeHtml(s: string): string {
  return s.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** The hidden inputs of the first form of a page. */
export function hiddenFields(html: string): URLSearchParams {
  const form = new URLSearchParams();
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.append(m[1] as string, unescapeHtml(m[2] as string));
  return form;
}

export interface BrowserResult {
  readonly callbackStatus: number;
  readonly callbackPage: string;
}

/** Log in and click Allow (or Deny) on the emulator's authorize page, then follow the redirect to the local callback. */
export async function approveInBrowser(authorizeUrl: string, login: { username: string; password: string }, decision: 'allow' | 'deny' = 'allow'): Promise<BrowserResult> {
  const callback = await fetch(await approvalRedirect(authorizeUrl, login, decision));
  return { callbackStatus: callback.status, callbackPage: await callback.text() };
}

/** Log in and decide on the emulator's authorize page; the callback URL the browser is sent to (not followed). */
export async function approvalRedirect(authorizeUrl: string, login: { username: string; password: string }, decision: 'allow' | 'deny' = 'allow'): Promise<string> {
  const origin = new URL(authorizeUrl).origin;
  const loginPage = await fetch(authorizeUrl);
  if (loginPage.status !== 200) throw new Error(`authorize page answered ${loginPage.status}: ${await loginPage.text()}`);
  const loginForm = hiddenFields(await loginPage.text());
  loginForm.set('username', login.username);
  loginForm.set('pw', login.password);
  const approval = await fetch(`${origin}/services/oauth2/authorize`, { method: 'POST', body: loginForm, redirect: 'manual' });
  let location = approval.headers.get('location');
  if (location === null) {
    const approveForm = hiddenFields(await approval.text());
    approveForm.set('decision', decision);
    const decided = await fetch(`${origin}/services/oauth2/authorize`, { method: 'POST', body: approveForm, redirect: 'manual' });
    location = decided.headers.get('location');
    if (decided.status !== 302 || location === null) throw new Error(`approval answered ${decided.status} without a redirect`);
  }
  return location;
}
