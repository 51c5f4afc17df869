import { describe, expect, it } from 'vitest';
import { capturedRootLogger } from '../helpers/run-context.ts';

describe('the root logger on sign-in fields', () => {
  it('redacts the tokens an RFC 8693 request or a token answer carries, at the top level and one level down', () => {
    const { log, text } = capturedRootLogger('info');
    log.info({ subject_token: 'SUBJECT-A', actor_token: 'ACTOR-A', id_token: 'ID-A', body: { subject_token: 'SUBJECT-B', id_token: 'ID-B', access_token: 'ACCESS-B', refresh_token: 'REFRESH-B' } }, 'exchange');
    expect(text()).toContain('exchange');
    expect(text()).toContain('[redacted]');
    for (const secret of ['SUBJECT-A', 'ACTOR-A', 'ID-A', 'SUBJECT-B', 'ID-B', 'ACCESS-B', 'REFRESH-B']) expect(text()).not.toContain(secret);
  });
});
