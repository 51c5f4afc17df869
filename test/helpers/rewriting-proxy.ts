import { createServer, request as httpRequest, type Server } from 'node:http';
import type { EmulatorConnectorProfile } from '../../src/emulator/index.ts';

/**
 * An HTTP proxy in front of the emulator that can rewrite whole response bodies, for the answers a real
 * Salesforce (or a load balancer in front of it) may give and the emulator does not. `rewrite` sees each
 * request's method and path; returning a function buffers that response's body and sends what it returns,
 * with correct framing.
 */
export async function rewritingProxy(
  target: string,
  rewrite: (method: string, path: string) => ((body: string) => string) | undefined,
): Promise<{ url: string; rewrites: () => number; close: () => Promise<void> }> {
  let rewrites = 0;
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (up) => {
      const change = rewrite(req.method ?? 'GET', new URL(req.url ?? '/', target).pathname);
      if (!change) {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      up.on('data', (c: Buffer) => chunks.push(c));
      up.on('end', () => {
        rewrites++;
        const body = change(Buffer.concat(chunks).toString('utf8'));
        const headers = { ...up.headers };
        delete headers['content-length'];
        delete headers['transfer-encoding'];
        res.writeHead(up.statusCode ?? 200, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
        res.end(body);
      });
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, rewrites: () => rewrites, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The emulator's connector profile with its instance URL pointed at `url` (a proxy in front of it). */
export function profileThrough(profile: EmulatorConnectorProfile, url: string): EmulatorConnectorProfile {
  const { connectorProfileProperties } = profile.connectorProfileConfig;
  return {
    ...profile,
    connectorProfileConfig: {
      ...profile.connectorProfileConfig,
      connectorProfileProperties: { ...connectorProfileProperties, Salesforce: { ...connectorProfileProperties.Salesforce, instanceUrl: url } },
    },
  };
}
