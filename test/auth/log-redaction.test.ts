import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../../src/core/logger.ts';

describe('the root logger on sign-in fields', () => {
  it('redacts the tokens an RFC 8693 request or a token answer carries, at the top level and one level down', () => {
    let out = '';
    const log = createRootLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, done) {
          out += chunk.toString();
          done();
        },
      }),
    });
    log.info({ subject_token: 'SUBJECT-A', actor_token: 'ACTOR-A', id_token: 'ID-A', body: { subject_token: 'SUBJECT-B', id_token: 'ID-B', access_token: 'ACCESS-B', refresh_token: 'REFRESH-B' } }, 'exchange');
    expect(out).toContain('exchange');
    expect(out).toContain('[redacted]');
    for (const secret of ['SUBJECT-A', 'ACTOR-A', 'ID-A', 'SUBJECT-B', 'ID-B', 'ACCESS-B', 'REFRESH-B']) expect(out).not.toContain(secret);
  });
});
