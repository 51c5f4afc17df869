import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { RunContext } from '../../src/core/connector.ts';
import { createRootLogger, type Logger } from '../../src/core/logger.ts';

/** A RunContext whose logs are captured as parsed JSON lines (pino's own test technique). */
export function captureContext(signal: AbortSignal = new AbortController().signal): RunContext & { lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = chunk.toString('utf8');
      chunks.push(s);
      for (const line of s.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  return { log, signal, now: () => new Date(), lines, text: () => chunks.join('') };
}

/** The root logger (createRootLogger: its level check and redaction) writing to memory: `text()` is all it wrote. */
export function capturedRootLogger(level: string): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const log = createRootLogger({ level, destination: { write: (s: string) => chunks.push(s) } });
  return { log, text: () => chunks.join('') };
}
