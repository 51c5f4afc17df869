import { describe, expect, it } from 'vitest';
import { asCancellation, canceled, CANCELED_MESSAGE, throwIfCanceled } from '../../src/core/cancel.ts';
import { ForceflowError } from '../../src/core/errors.ts';
import { sleep } from '../../src/core/retry.ts';

function aborted(): AbortSignal {
  const c = new AbortController();
  c.abort();
  return c.signal;
}

describe('cancellation is RUN_CANCELED, made in one place', () => {
  it('throwIfCanceled throws RUN_CANCELED only once the signal has aborted', () => {
    expect(() => throwIfCanceled(new AbortController().signal)).not.toThrow();
    expect(() => throwIfCanceled(undefined)).not.toThrow();
    expect(() => throwIfCanceled(aborted())).toThrow(expect.objectContaining({ code: 'RUN_CANCELED', message: CANCELED_MESSAGE }));
    expect(() => throwIfCanceled(aborted(), 'The run was cancelled while reading files.')).toThrow(expect.objectContaining({ code: 'RUN_CANCELED', message: 'The run was cancelled while reading files.' }));
  });

  it('a wait of the retry policy rejects with the same error as every other stage', async () => {
    const fromSleep = await sleep(10_000, aborted()).then(() => undefined, (e: unknown) => e);
    expect(fromSleep).toBeInstanceOf(ForceflowError);
    expect({ code: (fromSleep as ForceflowError).code, message: (fromSleep as ForceflowError).message, details: (fromSleep as ForceflowError).details })
      .toEqual({ code: canceled().code, message: canceled().message, details: canceled().details });
  });

  it('asCancellation maps an error that ended a stage after the abort, keeps a RUN_CANCELED as it is, and leaves errors before any abort alone', () => {
    const cause = new Error('socket closed');
    const mapped = asCancellation(cause, aborted());
    expect(mapped).toMatchObject({ code: 'RUN_CANCELED', message: CANCELED_MESSAGE });
    expect(mapped?.cause).toBe(cause);
    const own = canceled('Authorizing profile "p" was cancelled.', { details: { profile: 'p' } });
    expect(asCancellation(own, aborted())).toBe(own);
    expect(asCancellation(cause, new AbortController().signal)).toBeUndefined();
  });
});
