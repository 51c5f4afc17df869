import { ForceflowError } from '../../core/errors.ts';

/* HTTP helpers shared by the Salesforce client (http.ts) and the OAuth token requests (oauth.ts). */

/**
 * A network failure in words: fetch says only "fetch failed" or "terminated"; the reason (ECONNREFUSED,
 * ENOTFOUND, a certificate problem, the other side closing) is in its cause.
 */
export function networkReason(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string; errors?: Array<{ message?: string }> } };
  const message = e.message ?? String(error);
  const cause = e.cause;
  if (!cause) return message;
  const detail = cause.message || cause.errors?.map((x) => x.message).filter(Boolean).join('; ') || cause.code;
  return detail ? `${message}: ${detail}` : message;
}

/** The response text, refused with SF_API_ERROR once past `limit` bytes (network errors are thrown as they are). */
export async function boundedText(res: Response, limit: number, call: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  const tooLarge = (): ForceflowError =>
    new ForceflowError('SF_API_ERROR', `The answer to ${call} is larger than ${limit} bytes, more than Salesforce sends for one call. Check the instance URL and any proxy between forceflow and Salesforce.`, { details: { call, limit } });
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge(); // leaving the loop cancels the body
    chunks.push(chunk);
  }
  // As Response.text() decodes: UTF-8, a BOM dropped, invalid bytes as U+FFFD.
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks, total));
}
