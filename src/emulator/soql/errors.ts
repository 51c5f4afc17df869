import { sfError, type SfHttpError } from '../errors.ts';

/** The longest SOQL statement Salesforce accepts by default. */
export const MAX_SOQL_LENGTH = 100_000;

/**
 * Where things are in the SOQL text, so errors can point at them the way Salesforce does
 * (`\n<line>\n<spaces>^\nERROR at Row:R:Column:C\n<message>`).
 */
export class SoqlText {
  readonly text: string;
  /** Identifier-ish tokens outside string literals: text and offset. */
  private readonly tokens: { text: string; lower: string; start: number }[] = [];

  constructor(text: string) {
    this.text = text;
    const re = /'(?:\\.|[^'\\])*'?|[A-Za-z_][A-Za-z0-9_.]*|[^\sA-Za-z_']/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].startsWith("'")) continue;
      this.tokens.push({ text: m[0], lower: m[0].toLowerCase(), start: m.index });
    }
  }

  /** Offset of the first top-level-ish keyword (e.g. "where") at or after `from`, or -1. */
  keyword(word: string, from = 0): number {
    const lower = word.toLowerCase();
    for (const t of this.tokens) if (t.start >= from && t.lower === lower) return t.start;
    return -1;
  }

  /** Offset of the first token equal to `needle` (case-insensitive) at or after `from`; `from` itself when absent. */
  locate(needle: string, from = 0): number {
    const lower = needle.toLowerCase();
    for (const t of this.tokens) if (t.start >= from && t.lower === lower) return t.start;
    for (const t of this.tokens) if (t.start >= from && t.lower.includes(lower)) return t.start;
    return Math.max(0, Math.min(from, this.text.length));
  }

  /** Salesforce's caret snippet for an error at `offset`. */
  snippet(offset: number, message: string): string {
    let row = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < this.text.length; i++) {
      if (this.text[i] === '\n') {
        row++;
        lineStart = i + 1;
      }
    }
    const nl = this.text.indexOf('\n', lineStart);
    const line = this.text.slice(lineStart, nl < 0 ? undefined : nl).replace(/\r$/, '');
    const column = offset - lineStart + 1;
    return `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${message}`;
  }
}

export function malformed(message: string): SfHttpError {
  return sfError(400, 'MALFORMED_QUERY', message);
}

export function errorAt(code: string, text: SoqlText, offset: number, message: string): SfHttpError {
  return sfError(400, code, text.snippet(offset, message));
}

export function noSuchColumn(text: SoqlText, offset: number, column: string, entity: string): SfHttpError {
  return errorAt(
    'INVALID_FIELD',
    text,
    offset,
    `No such column '${column}' on entity '${entity}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

export function badRelationship(text: SoqlText, offset: number, rel: string): SfHttpError {
  return errorAt(
    'INVALID_FIELD',
    text,
    offset,
    `Didn't understand relationship '${rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

export function unsupportedType(text: SoqlText, offset: number, name: string): SfHttpError {
  return errorAt(
    'INVALID_TYPE',
    text,
    offset,
    `sObject type '${name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

export function badChildRelationship(text: SoqlText, offset: number, rel: string): SfHttpError {
  return errorAt(
    'INVALID_TYPE',
    text,
    offset,
    `Didn't understand relationship '${rel}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.`,
  );
}

/** A parse failure from the SOQL parser, as Salesforce words it. */
export function syntaxError(text: SoqlText, parserMessage: string): SfHttpError {
  const first = /^\s*([^\s(),]+)/.exec(text.text)?.[1];
  if (first === undefined) return malformed('unexpected token: <EOF>');
  if (first.toUpperCase() !== 'SELECT') return malformed(`unexpected token: ${first}`);
  // Lexer: "unexpected character: ->'<- at offset: 36, skipped 1 characters. (1:37)"
  const lexing = /unexpected character: ->([\s\S])<- at offset: (\d+)/.exec(parserMessage);
  if (lexing) return errorAt('MALFORMED_QUERY', text, Number(lexing[2]), `unexpected token: '${lexing[1] ?? ''}'`);
  // Parser: "... but found --> 'X' <--" / "but found: 'X'"
  const found = /but found(?: -->|:) '([\s\S]*?)'/.exec(parserMessage)?.[1];
  if (found === undefined || found === '') {
    return errorAt('MALFORMED_QUERY', text, text.text.trimEnd().length, "unexpected token: '<EOF>'");
  }
  return errorAt('MALFORMED_QUERY', text, text.locate(found, 1), `unexpected token: '${found}'`);
}
