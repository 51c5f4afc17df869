import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * A self-signed TLS certificate made at start for the local S3 over HTTPS (`forceflow emulator --s3-https`), with
 * node's crypto alone: an EC P-256 key, and an X.509 v3 certificate written here in DER (the few ASN.1 types a
 * certificate needs). It is its own CA (basicConstraints CA:TRUE), so a client trusts it the way it would trust a
 * private CA: `NODE_EXTRA_CA_CERTS=<its PEM file>` for node processes (the AWS SDK among them).
 *
 * Names: `localhost`, 127.0.0.1 and ::1 always, plus the given host names and IP addresses (the host the local S3
 * listens on, `--allow-host` names). Valid from an hour ago for 30 days: it lives as long as the emulator.
 */
export interface SelfSignedCertificate {
  /** The private key, PKCS#8 PEM. */
  readonly key: string;
  /** The certificate, PEM: the server's certificate and the CA its clients trust. */
  readonly cert: string;
}

const VALIDITY_DAYS = 30;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER element: tag, length, content. */
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...content: Buffer[]): Buffer => der(0x30, ...content);

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * (arcs[0] as number) + (arcs[1] as number)];
  for (const arc of arcs.slice(2)) {
    const base128: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    out.push(...base128);
  }
  return der(0x06, Buffer.from(out));
}

/** A positive INTEGER from big-endian bytes (a leading 0 when the top bit is set). */
function integer(bytes: Buffer): Buffer {
  return der(0x02, bytes[0] !== undefined && bytes[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

/** UTCTime (years 1950-2049), as RFC 5280 wants for those years. */
function time(date: Date): Buffer {
  const two = (n: number): string => String(n).padStart(2, '0');
  const s = `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return der(0x17, Buffer.from(s, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value));
}

/** An IPv4 or IPv6 literal as its 4 or 16 bytes; undefined for anything else. */
export function ipBytes(ip: string): Buffer | undefined {
  const version = isIP(ip);
  if (version === 4) return Buffer.from(ip.split('.').map(Number));
  if (version !== 6 || ip.includes('.') || ip.includes('%')) return undefined;
  const [head = '', tail] = ip.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

function subjectAltName(names: readonly string[]): Buffer {
  const seen = new Set<string>();
  const entries: Buffer[] = [];
  for (const raw of ['localhost', '127.0.0.1', '::1', ...names]) {
    const name = raw.replace(/^\[|\]$/g, '').toLowerCase();
    if (name === '' || seen.has(name)) continue;
    seen.add(name);
    const ip = ipBytes(name);
    if (ip !== undefined) entries.push(der(0x87, ip));
    else if (isIP(name) === 0 && /^[a-z0-9.*-]+$/.test(name)) entries.push(der(0x82, Buffer.from(name, 'ascii')));
  }
  return seq(...entries);
}

export function selfSignedCertificate(hosts: readonly string[] = [], now: Date = new Date()): SelfSignedCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from('forceflow local S3', 'utf8')))));
  // The key identifier: SHA-1 of the public key's bits (RFC 5280 4.2.1.2, method 1); its last 65 bytes here.
  const keyId = createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(new Date(now.getTime() - 3600_000)), time(new Date(now.getTime() + VALIDITY_DAYS * 86400_000))),
    name,
    spki,
    der(
      0xa3,
      seq(
        extension('2.5.29.19', true, seq(der(0x01, Buffer.from([0xff])))), // basicConstraints: CA
        extension('2.5.29.15', true, der(0x03, Buffer.from([0x02, 0x84]))), // keyUsage: digitalSignature, keyCertSign
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.14', false, der(0x04, keyId)), // subjectKeyIdentifier
        extension('2.5.29.17', false, subjectAltName(hosts)),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.from([0]), signature));
  const pem = `-----BEGIN CERTIFICATE-----\n${(cert.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert: pem };
}
