import { afterAll, beforeAll } from 'vitest';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/**
 * An HTTP proxy in front of the emulator that can stop a client at a chosen call, to kill it there: requests
 * matching the rule are held (never answered). `'request'`: held before they reach the emulator (the call was
 * not made); `'response'`: forwarded, the emulator's answer read whole, then held (the call was made, its answer
 * never arrives). `reached(n)` resolves once n requests are held. Everything else passes through.
 */
export interface HoldRule {
  readonly method: string;
  readonly path: RegExp;
  readonly at: 'request' | 'response';
  /** Matching requests let through before holding starts (default 0). */
  readonly skip?: number;
}

export interface HoldingProxy {
  readonly url: string;
  /** Sets the rule (undefined: pass everything); held requests of an earlier rule stay held. */
  hold(rule: HoldRule | undefined): void;
  /** Resolves when `count` requests are held under the current rule. */
  reached(count?: number): Promise<void>;
  close(): Promise<void>;
}

export async function holdingProxy(target: string): Promise<HoldingProxy> {
  let rule: HoldRule | undefined;
  let seen = 0;
  let held = 0;
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  const holding: ServerResponse[] = [];
  const note = (): void => {
    held++;
    waiters = waiters.filter((w) => {
      if (held < w.count) return true;
      w.resolve();
      return false;
    });
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', target);
    const r = rule;
    const match = r !== undefined && r.method === req.method && r.path.test(url.pathname) && seen++ >= (r.skip ?? 0);
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    if (match && r.at === 'request') {
      holding.push(res);
      req.resume();
      note();
      return;
    }
    const upstream = httpRequest(url, { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      if (!match) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      up.resume();
      up.on('end', () => {
        holding.push(res);
        note();
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hold(next) {
      rule = next;
      seen = 0;
      held = 0;
    },
    reached(count = 1) {
      if (held >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close() {
      for (const res of holding) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Registers beforeAll/afterAll in the calling scope: a holding proxy in front of `target()` (read in beforeAll,
 * so it may name what another beforeAll starts), closed after the suite.
 */
export function holdingProxyEnv(target: () => string): HoldingProxy {
  let running: HoldingProxy | undefined;
  beforeAll(async () => {
    running = await holdingProxy(target());
  });
  afterAll(async () => {
    await running?.close();
  });
  const proxy = (): HoldingProxy => {
    if (running === undefined) throw new Error('holdingProxyEnv: used outside the tests of the suite that started it');
    return running;
  };
  return {
    get url(): string {
      return proxy().url;
    },
    hold: (rule) => proxy().hold(rule),
    reached: (count) => proxy().reached(count),
    close: () => proxy().close(),
  };
}
