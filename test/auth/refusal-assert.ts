import { expect } from 'vitest';
import { TOKEN_REFUSED_MESSAGE, TokenRefusedError, type RefusalReason } from '../../src/auth/refusal.ts';

/**
 * The promise rejects with TOKEN_REFUSED for `reason`: the one message, the reason apart, and neither
 * the message nor the JSON (what a log gets) carrying the token.
 */
export async function expectRefused(promise: Promise<unknown>, reason: RefusalReason, token?: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the token was accepted').toBeInstanceOf(TokenRefusedError);
  const refused = error as TokenRefusedError;
  expect({ code: refused.code, kind: refused.kind, message: refused.message, reason: refused.reason }).toEqual({ code: 'TOKEN_REFUSED', kind: 'auth', message: TOKEN_REFUSED_MESSAGE, reason });
  const json = JSON.stringify(refused);
  expect(json).toContain(`"reason":"${reason}"`);
  // No cause: jose's errors carry the token's claims, which must not reach a log.
  expect(refused.cause).toBeUndefined();
  if (token !== undefined) {
    expect(json).not.toContain(token);
    expect(refused.message).not.toContain(token);
  }
}
