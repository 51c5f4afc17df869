import type { FieldValue } from '../../core/types.ts';
import { valueToText } from '../../formats/values.ts';
import type { OutputFormatConfig } from '../../formats/config.ts';

/**
 * Where a run's files go, after AppFlow's documented S3 layout (appflow-model §5.3), relative to the
 * destination root (`bucketName/bucketPrefix` on S3, the folder on LocalFile):
 *
 *   <flowName>/[schemaVersion_<n>/][<yyyy>/<MM>/<dd>/<HH>/<mm>/][<executionId>/][<field>=<value>/...]<file>
 *
 * - `pathPrefixHierarchy` lists the folders to include: `SCHEMA_VERSION` and `EXECUTION_ID`. When it is not
 *   given the execution id folder is included (AppFlow's default layout `<flowName>/<executionId>/`).
 * - `prefixType` PATH or PATH_AND_FILENAME adds the run's UTC start time as folders down to `prefixFormat`
 *   (YEAR … MINUTE, DAY when only prefixType is given); AppFlow then requires the execution id folder, so it
 *   is added. FILENAME or PATH_AND_FILENAME starts the file name with the same time (`2024-04-16-19-05-`).
 *   A prefixFormat without prefixType means PATH.
 * - Partition folders are `field=value` in the order of the Partition task's keys; null goes to `field=null`.
 *   Characters that break keys or Hive-style readers (`/ = % \ : * ? " < > | # ' { } [ ] ^`, control
 *   characters) are written as `%XX`.
 * - File names are `[<time>-]<executionId>-<NNNNN>.<ext>`: unique per run, in write order.
 */
export interface LayoutOptions {
  readonly flowName: string;
  readonly executionId: string;
  readonly schemaVersion: number;
  readonly startedAt: Date;
  readonly outputFormatConfig?: OutputFormatConfig;
}

export interface Layout {
  /** The run's folder, ending with `/`. */
  readonly folder: string;
  partitionFolder(values: readonly (readonly [string, FieldValue | undefined])[]): string;
  fileName(sequence: number, extension: string): string;
}

const GRANULARITY = ['YEAR', 'MONTH', 'DAY', 'HOUR', 'MINUTE'] as const;

function timeParts(date: Date, format: (typeof GRANULARITY)[number]): string[] {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const all = [String(date.getUTCFullYear()), pad(date.getUTCMonth() + 1), pad(date.getUTCDate()), pad(date.getUTCHours()), pad(date.getUTCMinutes())];
  return all.slice(0, GRANULARITY.indexOf(format) + 1);
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const UNSAFE = /[\u0000-\u001f\u007f"#%'*/:<=>?[\\\]^{|}]/g;

/** A partition folder name part, `%XX`-escaped like Hive. */
export function escapePathPart(text: string): string {
  return text.replace(UNSAFE, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function createLayout(options: LayoutOptions): Layout {
  const prefix = options.outputFormatConfig?.prefixConfig;
  const prefixType = prefix?.prefixType ?? (prefix?.prefixFormat === undefined ? undefined : 'PATH');
  const prefixFormat = prefix?.prefixFormat ?? 'DAY';
  const hierarchy = prefix?.pathPrefixHierarchy ?? ['EXECUTION_ID'];
  const timeInPath = prefixType === 'PATH' || prefixType === 'PATH_AND_FILENAME';
  const timeInName = prefixType === 'FILENAME' || prefixType === 'PATH_AND_FILENAME';
  const time = prefixType === undefined ? [] : timeParts(options.startedAt, prefixFormat);

  const parts = [escapePathPart(options.flowName)];
  if (hierarchy.includes('SCHEMA_VERSION')) parts.push(`schemaVersion_${options.schemaVersion}`);
  if (timeInPath) parts.push(...time);
  if (hierarchy.includes('EXECUTION_ID') || timeInPath) parts.push(escapePathPart(options.executionId));
  const folder = `${parts.join('/')}/`;
  const namePrefix = timeInName ? `${time.join('-')}-` : '';

  return {
    folder,
    partitionFolder(values) {
      return values.map(([field, value]) => `${escapePathPart(field)}=${escapePathPart(valueToText(value ?? null) ?? 'null')}/`).join('');
    },
    fileName(sequence, extension) {
      return `${namePrefix}${escapePathPart(options.executionId)}-${String(sequence).padStart(5, '0')}.${extension}`;
    },
  };
}
