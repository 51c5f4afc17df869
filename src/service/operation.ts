import type { z } from 'zod';
import type { Logger } from '../core/logger.ts';

/** Who signed the request (the access key's identity); `readOnly` keys may call only read operations. */
export interface Caller {
  readonly accessKeyId: string;
  /** `arn:aws:iam::<account>:user/<name>`: AppFlow's createdBy / lastUpdatedBy. */
  readonly arn: string;
  readonly readOnly: boolean;
}

export interface OperationContext {
  readonly log: Logger;
  readonly caller: Caller;
  readonly region: string;
  readonly accountId: string;
  /** The service clock (injectable in tests). */
  readonly now: () => Date;
}

/**
 * One AppFlow operation: where it lives on the wire, whether it only reads, how its input is parsed
 * (zod, once, at the boundary: a failure is a ValidationException naming the member), and its handler.
 * Handlers throw {@link ApiError} for refusals; the output is the modelled response members (timestamps
 * as `Date`, serialised to epoch seconds by the protocol layer).
 */
export interface Operation<I = unknown> {
  /** The model's operation name, e.g. `CreateFlow`. */
  readonly name: string;
  readonly method: 'POST' | 'GET' | 'DELETE';
  /**
   * `/create-flow`, or `/tags/{resourceArn}` for the tag operations. The input the schema sees is the JSON
   * body's members, plus each `{label}` (its path segment, percent-decoded once) and each query parameter
   * as an array of strings (`?tagKeys=a&tagKeys=b` → `tagKeys: ['a', 'b']`). A `clientToken` member is
   * handled by the protocol layer (src/service/idempotency.ts): a repeat with the same input gets the first
   * response without `handle` running again.
   */
  readonly path: string;
  readonly readOnly: boolean;
  readonly input: z.ZodType<I>;
  handle(input: I, ctx: OperationContext): Promise<Record<string, unknown>>;
}

/** Build an operation with its input type inferred from the schema. */
export function operation<S extends z.ZodType>(op: Omit<Operation<z.infer<S>>, 'input'> & { input: S }): Operation<z.infer<S>> {
  return op as Operation<z.infer<S>>;
}
