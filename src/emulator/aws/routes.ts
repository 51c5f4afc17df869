import type { ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { EmuRequest } from '../http.ts';
import type { Org, OrgRouter } from '../context.ts';
import { AwsError, AWS_ACCOUNT_ID, type AwsState, type KmsKey, type Secret, type SecretVersion } from './state.ts';

/**
 * KMS (`TrentService.*`) and Secrets Manager (`secretsmanager.*`, RestoreSecret included) over the AWS JSON 1.1 protocol:
 * `POST /` with `X-Amz-Target`. Any SigV4 signature is accepted, but an Authorization header is required.
 */
export function registerAwsRoutes(router: OrgRouter): void {
  router.add('POST', '/', { group: 'aws', auth: false, countsAsApiCall: false }, async (req, res, { org }) => {
    const requestId = randomUUID();
    try {
      const body = await handleAws(req, org);
      send(res, 200, body, requestId);
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      send(res, error.status, error.message === '' ? { __type: error.type } : { __type: error.type, message: error.message }, requestId, error.type);
    }
  });
}

function send(res: ServerResponse, status: number, body: unknown, requestId: string, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/x-amz-json-1.1',
    'Content-Length': Buffer.byteLength(text),
    'x-amzn-RequestId': requestId,
    ...(errorType === undefined ? {} : { 'x-amzn-ErrorType': errorType }),
  });
  res.end(text);
}

type Json = Record<string, unknown>;
type Operation = (input: Json, aws: AwsState) => Json;

function str(input: Json, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AwsError('SerializationException', `Start of structure or map found where not expected for ${name}`);
  return v;
}

function blob(input: Json, name: string): Buffer | undefined {
  const v = str(input, name);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new AwsError('SerializationException', `Invalid base64 for ${name}`);
  return Buffer.from(v, 'base64');
}

function context(input: Json): Record<string, string> | undefined {
  const v = input['EncryptionContext'];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new AwsError('SerializationException', 'EncryptionContext must be a map of strings');
  }
  return v as Record<string, string>;
}

const seconds = (ms: number): number => ms / 1000;

function keyMetadata(key: KmsKey): Json {
  return {
    AWSAccountId: AWS_ACCOUNT_ID,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: seconds(key.createdAt),
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}

function dataKeyBytes(input: Json): number {
  const spec = str(input, 'KeySpec');
  const n = input['NumberOfBytes'];
  if (spec !== undefined && n !== undefined) throw new AwsError('ValidationException', 'Please specify either number of bytes or key spec.');
  if (spec === 'AES_256') return 32;
  if (spec === 'AES_128') return 16;
  if (spec !== undefined) throw new AwsError('ValidationException', `1 validation error detected: Value '${spec}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`);
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1024) return n;
  throw new AwsError('ValidationException', 'Please specify either number of bytes or key spec.');
}

const KMS: Record<string, Operation> = {
  CreateKey(input, aws) {
    const spec = str(input, 'KeySpec') ?? str(input, 'CustomerMasterKeySpec') ?? 'SYMMETRIC_DEFAULT';
    const usage = str(input, 'KeyUsage') ?? 'ENCRYPT_DECRYPT';
    if (spec !== 'SYMMETRIC_DEFAULT' || usage !== 'ENCRYPT_DECRYPT') throw new AwsError('UnsupportedOperationException', 'The emulator serves symmetric ENCRYPT_DECRYPT keys only.');
    return { KeyMetadata: keyMetadata(aws.createKey(str(input, 'Description') ?? '')) };
  },
  DescribeKey(input, aws) {
    return { KeyMetadata: keyMetadata(aws.key(str(input, 'KeyId'))) };
  },
  EnableKey(input, aws) {
    aws.setEnabled(str(input, 'KeyId'), true);
    return {};
  },
  DisableKey(input, aws) {
    aws.setEnabled(str(input, 'KeyId'), false);
    return {};
  },
  CreateAlias(input, aws) {
    aws.createAlias(str(input, 'AliasName') ?? '', str(input, 'TargetKeyId') ?? '');
    return {};
  },
  Encrypt(input, aws) {
    const key = aws.usableKey(str(input, 'KeyId'));
    const plaintext = blob(input, 'Plaintext');
    if (plaintext === undefined || plaintext.length === 0 || plaintext.length > 4096) {
      throw new AwsError('ValidationException', "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096");
    }
    return { CiphertextBlob: aws.encrypt(key, plaintext, context(input)).toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  Decrypt(input, aws) {
    const ciphertext = blob(input, 'CiphertextBlob');
    if (ciphertext === undefined) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null");
    const { key, plaintext } = aws.decrypt(ciphertext, context(input), str(input, 'KeyId'));
    return { KeyId: key.arn, Plaintext: plaintext.toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  },
  GenerateDataKey(input, aws) {
    const key = aws.usableKey(str(input, 'KeyId'));
    const plaintext = randomBytes(dataKeyBytes(input));
    return { CiphertextBlob: aws.encrypt(key, plaintext, context(input)).toString('base64'), Plaintext: plaintext.toString('base64'), KeyId: key.arn };
  },
  GenerateDataKeyWithoutPlaintext(input, aws) {
    const key = aws.usableKey(str(input, 'KeyId'));
    return { CiphertextBlob: aws.encrypt(key, randomBytes(dataKeyBytes(input)), context(input)).toString('base64'), KeyId: key.arn };
  },
};

function current(secret: Secret, input: Json): SecretVersion {
  const versionId = str(input, 'VersionId');
  const stage = str(input, 'VersionStage') ?? (versionId === undefined ? 'AWSCURRENT' : undefined);
  const version = secret.versions.find((v) => (versionId === undefined || v.versionId === versionId) && (stage === undefined || v.stages.includes(stage)));
  if (!version) throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for " + (versionId === undefined ? `staging label: ${stage ?? 'AWSCURRENT'}` : `VersionId: ${versionId}`));
  return version;
}

function secretValueInput(input: Json): { secretString?: string; secretBinary?: Buffer; versionId?: string } {
  const secretString = str(input, 'SecretString');
  const secretBinary = blob(input, 'SecretBinary');
  const versionId = str(input, 'ClientRequestToken');
  if (secretString !== undefined && secretBinary !== undefined) throw new AwsError('InvalidParameterException', 'You can\'t specify both a binary secret value and a string secret value in the same secret.');
  return { ...(secretString === undefined ? {} : { secretString }), ...(secretBinary === undefined ? {} : { secretBinary }), ...(versionId === undefined ? {} : { versionId }) };
}

const SECRETS: Record<string, Operation> = {
  CreateSecret(input, aws) {
    const description = str(input, 'Description');
    const kmsKeyId = str(input, 'KmsKeyId');
    const secret = aws.createSecret({ name: str(input, 'Name') ?? '', ...(description === undefined ? {} : { description }), ...(kmsKeyId === undefined ? {} : { kmsKeyId }), ...secretValueInput(input) });
    const version = secret.versions.at(-1);
    return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.versionId } : {}) };
  },
  GetSecretValue(input, aws) {
    const secret = aws.secret(str(input, 'SecretId'));
    const version = current(secret, input);
    if (secret.kmsKeyId !== undefined) {
      let usable: boolean;
      try {
        usable = aws.key(secret.kmsKeyId).enabled;
      } catch {
        usable = false;
      }
      if (!usable) throw new AwsError('DecryptionFailure', "Secrets Manager can't decrypt the protected secret text using the provided KMS key.");
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.versionId,
      ...(version.secretString === undefined ? {} : { SecretString: version.secretString }),
      ...(version.secretBinary === undefined ? {} : { SecretBinary: version.secretBinary.toString('base64') }),
      VersionStages: version.stages,
      CreatedDate: seconds(version.createdAt),
    };
  },
  PutSecretValue(input, aws) {
    const { secret, version } = aws.putSecretValue(str(input, 'SecretId'), secretValueInput(input));
    return { ARN: secret.arn, Name: secret.name, VersionId: version.versionId, VersionStages: version.stages };
  },
  DescribeSecret(input, aws) {
    const secret = aws.secret(str(input, 'SecretId'), { includeDeleted: true });
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description === undefined ? {} : { Description: secret.description }),
      ...(secret.kmsKeyId === undefined ? {} : { KmsKeyId: secret.kmsKeyId }),
      LastChangedDate: seconds(secret.lastChangedAt),
      CreatedDate: seconds(secret.createdAt),
      ...(secret.deletedAt === undefined ? {} : { DeletedDate: seconds(secret.deletedAt) }),
      VersionIdsToStages: Object.fromEntries(secret.versions.map((v) => [v.versionId, v.stages])),
    };
  },
  DeleteSecret(input, aws) {
    const force = input['ForceDeleteWithoutRecovery'] === true;
    const windowDays = input['RecoveryWindowInDays'];
    if (force && windowDays !== undefined) throw new AwsError('InvalidParameterException', 'You can\'t use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.');
    const days = typeof windowDays === 'number' ? windowDays : 30;
    if (!force && (days < 7 || days > 30)) throw new AwsError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    const secret = aws.deleteSecret(str(input, 'SecretId'), force, days);
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.purgeAt ?? 0) };
  },
  RestoreSecret(input, aws) {
    const secret = aws.restoreSecret(str(input, 'SecretId'));
    return { ARN: secret.arn, Name: secret.name };
  },
};

async function handleAws(req: EmuRequest, org: Org): Promise<Json> {
  const target = req.headers['x-amz-target'];
  if (typeof req.headers['authorization'] !== 'string' || req.headers['authorization'] === '') {
    throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const m = typeof target === 'string' ? /^(TrentService|secretsmanager)\.(\w+)$/.exec(target) : null;
  const op = m ? (m[1] === 'TrentService' ? KMS : SECRETS)[m[2] as string] : undefined;
  if (!op) throw new AwsError('UnknownOperationException', '');
  const text = (await req.body(1024 * 1024)).toString('utf8');
  let input: unknown;
  try {
    input = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
  return op(input as Json, org.aws);
}
