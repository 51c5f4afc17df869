import type { EntitySchema } from '../core/types.ts';
import { CsvEncoder, openCsv } from './csv.ts';
import { JsonLinesEncoder, openJsonLines } from './jsonl.ts';
import { ParquetEncoder, openParquet } from './parquet.ts';
import type { DecodedFile, DecodeOptions, EncoderOptions, FileType, InputFile, RecordEncoder } from './types.ts';

export type { DecodedFile, DecodeOptions, EncoderOptions, FileType, InputFile, RecordEncoder } from './types.ts';
export * from './config.ts';
export { CsvEncoder, csvCell, openCsv } from './csv.ts';
export { JsonLinesEncoder, openJsonLines } from './jsonl.ts';
export { ParquetEncoder, openParquet } from './parquet.ts';

/** File name extension per file type (AppFlow's JSON type is JSON lines). */
export const EXTENSIONS: Readonly<Record<FileType, string>> = { CSV: 'csv', JSON: 'jsonl', PARQUET: 'parquet' };
export const CONTENT_TYPES: Readonly<Record<FileType, string>> = {
  CSV: 'text/csv; charset=utf-8',
  JSON: 'application/x-ndjson',
  PARQUET: 'application/vnd.apache.parquet',
};

export function createEncoder(fileType: FileType, schema: EntitySchema, options: EncoderOptions = {}): RecordEncoder {
  switch (fileType) {
    case 'CSV':
      return new CsvEncoder(schema);
    case 'JSON':
      return new JsonLinesEncoder(schema);
    case 'PARQUET':
      return new ParquetEncoder(schema, options);
  }
}

export function openDecoder(fileType: FileType, file: InputFile, options: DecodeOptions): Promise<DecodedFile> {
  switch (fileType) {
    case 'CSV':
      return openCsv(file, options);
    case 'JSON':
      return openJsonLines(file, options);
    case 'PARQUET':
      return openParquet(file, options);
  }
}

/** The file type a name's extension implies (.csv, .json/.jsonl/.ndjson, .parquet), if any. */
export function fileTypeFromName(name: string): FileType | undefined {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'CSV';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'JSON';
  if (lower.endsWith('.parquet')) return 'PARQUET';
  return undefined;
}
