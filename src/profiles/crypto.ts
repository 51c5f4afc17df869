import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { ForceflowError } from '../core/errors.ts';

/** forceflow's default profile key when a profile names no kmsArn (override with FORCEFLOW_KMS_KEY_ID). */
export const DEFAULT_KMS_KEY_ID = 'alias/forceflow';

/**
 * One envelope-encrypted value: a KMS data key (encrypted under `keyArn` with the encryption context
 * `{ profile: <name> }`) and the value sealed locally with AES-256-GCM under that data key, with the
 * profile name also bound as GCM additional data.
 */
export interface Envelope {
  /** The ARN of the KMS key that encrypted the data key (as KMS returned it). */
  readonly keyArn: string;
  readonly encryptedDataKey: Buffer;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/** The KMS encryption context of a profile's data key. */
export function encryptionContext(profileName: string): Record<string, string> {
  return { profile: profileName };
}

function aad(profileName: string): Buffer {
  return Buffer.from(`forceflow/connector-profile/v1/${profileName}`, 'utf8');
}

function awsErrorName(error: unknown): string {
  const e = error as { name?: unknown; Code?: unknown };
  return typeof e.name === 'string' ? e.name : 'Error';
}

/**
 * An AWS SDK failure in words for the default case: its name and message (AWS messages name keys and
 * ARNs, never secret values), plus the usual fix for the two set-up mistakes the SDK reports vaguely.
 */
export function awsReason(error: unknown): string {
  const name = awsErrorName(error);
  const raw = (error as { message?: unknown }).message;
  const message = typeof raw === 'string' ? raw.slice(0, 300) : '';
  const said = message && message !== name ? `${name}: ${message}` : name;
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return `${said}; no AWS credentials were found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role`;
  }
  if (/region is missing/i.test(message)) return `${said}; set AWS_REGION`;
  return said;
}

/** A KMS failure as a catalogued error naming the profile, the key and the fix (never a secret). */
export function kmsError(profileName: string, keyId: string, action: 'GenerateDataKey' | 'Decrypt', error: unknown): ForceflowError {
  const name = awsErrorName(error);
  const details = { profile: profileName, kmsKeyId: keyId, awsError: name };
  switch (name) {
    case 'NotFoundException':
      if (action === 'Decrypt') {
        return new ForceflowError('KMS_ERROR', `Profile "${profileName}": KMS key ${keyId}, which encrypted the stored credentials, does not exist in this account and region. Check AWS_REGION and the AWS account (or AWS_ENDPOINT_URL_KMS); if the key was deleted, the credentials cannot be recovered: store the profile again (forceflow profiles create --replace --file profile.json).`, { details, cause: error });
      }
      return new ForceflowError('KMS_ERROR', `Profile "${profileName}": KMS key ${keyId} does not exist in this account and region. Create it (aws kms create-key, then aws kms create-alias), or set the profile's kmsArn to an existing key.`, { details, cause: error });
    case 'DisabledException':
    case 'KMSInvalidStateException':
      return new ForceflowError('KMS_ERROR', `Profile "${profileName}": KMS key ${keyId} is disabled or pending deletion, so ${action} is refused. Enable it (aws kms enable-key --key-id ${keyId}) or re-create the profile with another kmsArn.`, { details, cause: error });
    case 'AccessDeniedException':
      return new ForceflowError('KMS_ERROR', `Profile "${profileName}": not allowed to call kms:${action} on ${keyId}. Grant kms:GenerateDataKey and kms:Decrypt on the key to the identity running forceflow (key policy, see docs/profiles.md).`, { details, cause: error });
    case 'InvalidCiphertextException':
    case 'IncorrectKeyException':
      return new ForceflowError('DECRYPT_FAILED', `Profile "${profileName}": the stored credentials do not decrypt with key ${keyId} and this profile's encryption context (${name}); they were tampered with, copied from another profile, or sealed with another key. Delete the profile and create it again (forceflow profiles delete/create).`, { details, cause: error });
    default:
      return new ForceflowError('KMS_ERROR', `Profile "${profileName}": KMS ${action} with key ${keyId} failed (${awsReason(error)}). Check the AWS credentials, region and endpoint (AWS_REGION, AWS_ENDPOINT_URL_KMS).`, { details, cause: error });
  }
}

/** Seal `plaintext` for a profile: a fresh data key from KMS GenerateDataKey, AES-256-GCM locally. */
export async function sealForProfile(kms: KMSClient, keyId: string, profileName: string, plaintext: Buffer): Promise<Envelope> {
  let dataKey: Uint8Array | undefined;
  let encryptedDataKey: Uint8Array | undefined;
  let keyArn: string | undefined;
  try {
    const out = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: encryptionContext(profileName) }));
    dataKey = out.Plaintext;
    encryptedDataKey = out.CiphertextBlob;
    keyArn = out.KeyId;
  } catch (error) {
    throw kmsError(profileName, keyId, 'GenerateDataKey', error);
  }
  if (!dataKey || dataKey.length !== 32 || !encryptedDataKey) {
    dataKey?.fill(0);
    throw new ForceflowError('KMS_ERROR', `Profile "${profileName}": KMS GenerateDataKey with ${keyId} returned no usable 256-bit data key. Check that AWS_ENDPOINT_URL_KMS points at KMS.`);
  }
  const key = Buffer.from(dataKey);
  try {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(profileName));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { keyArn: keyArn ?? keyId, encryptedDataKey: Buffer.from(encryptedDataKey), iv, tag: cipher.getAuthTag(), ciphertext };
  } finally {
    // Both copies: ours and the SDK's answer (Buffer.from copies).
    key.fill(0);
    dataKey.fill(0);
  }
}

/**
 * Open an envelope sealed for `profileName`: KMS Decrypt of the data key with the profile's encryption
 * context and the recorded key, then AES-256-GCM. A wrong key, another profile's context or a tampered
 * byte is DECRYPT_FAILED; an absent or disabled key is KMS_ERROR.
 */
export async function openForProfile(kms: KMSClient, profileName: string, envelope: Envelope): Promise<Buffer> {
  let dataKey: Uint8Array | undefined;
  try {
    const out = await kms.send(new DecryptCommand({ CiphertextBlob: envelope.encryptedDataKey, KeyId: envelope.keyArn, EncryptionContext: encryptionContext(profileName) }));
    dataKey = out.Plaintext;
  } catch (error) {
    throw kmsError(profileName, envelope.keyArn, 'Decrypt', error);
  }
  if (!dataKey || dataKey.length !== 32) {
    dataKey?.fill(0);
    throw new ForceflowError('DECRYPT_FAILED', `Profile "${profileName}": KMS returned no usable data key. Delete the profile and create it again.`, { details: { profile: profileName } });
  }
  const key = Buffer.from(dataKey);
  dataKey.fill(0);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv, { authTagLength: 16 });
    decipher.setAAD(aad(profileName));
    decipher.setAuthTag(envelope.tag);
    return Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]);
  } catch (error) {
    throw new ForceflowError('DECRYPT_FAILED', `Profile "${profileName}": the stored credentials fail their integrity check (tampered, or copied from another profile). Delete the profile and create it again (forceflow profiles delete/create).`, { details: { profile: profileName }, cause: error });
  } finally {
    key.fill(0);
  }
}
