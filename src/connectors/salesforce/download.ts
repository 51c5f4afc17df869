import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';

/**
 * A large GET answer read as the socket delivers it: Bulk API 2.0 result pages and ingest results, hundreds of
 * megabytes a job. fetch copies every chunk of a body into a new ArrayBuffer before its stream hands it over
 * (undici's fetch body: `new Uint8Array(bytes)`), so a download allocated twice its size in backing stores. V8
 * counts those as external memory and answers their growth with extra collections; at 1,000,000 records
 * exported that was 0.3-1 CPU s (docs/benchmarks.md). Here the body is node's own response stream: each chunk
 * is the socket's buffer, handed over as it is.
 *
 * What fetch did and this keeps: gzip and deflate answers (asked for with Accept-Encoding, as fetch asks) are
 * decompressed; no answer waits longer than {@link DOWNLOAD_IDLE_MS} for a byte (undici's 300 s header and body
 * timeouts); the request stops with its signal. Redirects are not followed (Salesforce sends none for these).
 */
export interface Download {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: Headers;
  /** The body's bytes, decompressed; leaving a `for await` early closes the connection. */
  readonly body: AsyncIterable<Uint8Array>;
  /** The body as UTF-8 text (an error answer's), at most {@link TEXT_LIMIT} bytes of it. */
  text(): Promise<string>;
}

/** The most of a body `text()` reads: an error answer is a few hundred bytes; a proxy's page is not kept whole. */
export const TEXT_LIMIT = 1024 * 1024;

/** The longest a download waits for the next bytes (the answer's head or the body's next chunk): undici's default. */
export const DOWNLOAD_IDLE_MS = 300_000;

export interface DownloadOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** {@link DOWNLOAD_IDLE_MS} unless given (tests). */
  readonly idleMs?: number;
}

/** GET `url`; resolves once the answer's head has arrived (any status), rejects on a network failure. Leaving a `for await` over the body early closes the connection. */
export function download(url: string, options: DownloadOptions): Promise<Download> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined) return Promise.reject(new TypeError(`Cannot download ${target.protocol} URLs.`));
  return new Promise<Download>((resolve, reject) => {
    const req = send(target, {
      method: 'GET',
      headers: { 'Accept-Encoding': 'gzip, deflate', ...options.headers },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const idleMs = options.idleMs ?? DOWNLOAD_IDLE_MS;
    // The socket's idle timeout covers the wait for the head and every wait inside the body.
    req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error(`no data for ${Math.round(idleMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    // Kept for the request's life: a socket error after the head (a reset, the idle timeout) is emitted here too
    // (the body's reader sees it as its own error), and an 'error' with no listener would end the process.
    req.on('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const headers = new Headers();
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
      const body = decoded(res);
      const status = res.statusCode ?? 0;
      resolve({
        ok: status >= 200 && status < 300,
        status,
        headers,
        body,
        async text() {
          const chunks: Buffer[] = [];
          let total = 0;
          for await (const chunk of body) {
            chunks.push(chunk as Buffer);
            total += (chunk as Buffer).length;
            if (total >= TEXT_LIMIT) break; // leaving the loop closes the connection
          }
          return new TextDecoder('utf-8').decode(Buffer.concat(chunks).subarray(0, TEXT_LIMIT));
        },
      });
    });
    req.end();
  });
}

/** The response body, through a decompressor when the answer says it is compressed. */
function decoded(res: IncomingMessage): Readable {
  const coding = (res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const inflate = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (inflate === undefined) return res;
  // pipeline carries a broken body's error into the decompressor (what the reader iterates) and closes the response
  // when the reader stops early; its callback keeps an error that comes before anyone reads from ending the process.
  pipeline(res, inflate, () => undefined);
  return inflate;
}
