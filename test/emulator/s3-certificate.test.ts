import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createServer, get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ipBytes, selfSignedCertificate } from '../../src/emulator/s3/certificate.ts';

describe('selfSignedCertificate (the local S3 over HTTPS)', () => {
  it('is an X.509 v3 CA certificate for loopback names and the given hosts, signed by its own key', () => {
    const now = new Date('2026-12-06T03:00:00Z');
    const { key, cert } = selfSignedCertificate(['host.docker.internal', '10.1.2.3', 'fe80::1', 'LOCALHOST', 'not a name'], now);
    const x = new X509Certificate(cert);
    expect(x.ca).toBe(true);
    expect(x.subject).toBe('CN=forceflow local S3');
    expect(x.issuer).toBe(x.subject);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:host.docker.internal, IP Address:10.1.2.3, IP Address:FE80:0:0:0:0:0:0:1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(x.validFrom).getTime()).toBe(now.getTime() - 3600_000);
    expect(new Date(x.validTo).getTime()).toBe(now.getTime() + 30 * 86400_000);
    // A fresh key and serial number every time.
    expect(new X509Certificate(selfSignedCertificate([], now).cert).serialNumber).not.toBe(x.serialNumber);
  });

  it('serves TLS that a client trusting it (and only such a client) accepts, for 127.0.0.1 and localhost', async () => {
    const { key, cert } = selfSignedCertificate();
    const server = createServer({ key, cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fetchWith = (host: string, ca?: string): Promise<string> =>
      new Promise((resolve) => {
        get({ host, port, ...(ca === undefined ? {} : { ca }) }, (res) => {
          res.resume();
          resolve(String(res.statusCode));
        }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
    try {
      expect(await fetchWith('127.0.0.1', cert)).toBe('200');
      expect(await fetchWith('localhost', cert)).toBe('200');
      expect(await fetchWith('127.0.0.1')).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
      expect(await fetchWith('127.0.0.1', selfSignedCertificate().cert)).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    } finally {
      server.close();
    }
  });

  it('ipBytes: IPv4 and IPv6 literals as their bytes, anything else undefined', () => {
    expect(ipBytes('10.1.2.3')).toEqual(Buffer.from([10, 1, 2, 3]));
    expect(ipBytes('::1')?.toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipBytes('fe80::1:2')?.toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipBytes('2001:db8:0:0:1:0:0:1')?.toString('hex')).toBe('20010db8000000000001000000000001');
    expect(ipBytes('::')?.toString('hex')).toBe('0'.repeat(32));
    expect(ipBytes('localhost')).toBeUndefined();
    expect(ipBytes('::ffff:1.2.3.4')).toBeUndefined();
  });
});
