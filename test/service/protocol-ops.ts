import { z } from 'zod';
import { ForceflowError } from '../../src/core/errors.ts';
import { ApiError } from '../../src/service/api-error.ts';
import { operation, type Operation } from '../../src/service/operation.ts';

/**
 * Test-only operations for the protocol layer (the real ones live in src/service/operations): they
 * echo what reached them, so a test sees the parsed input, the caller and the serialised output.
 */
export function protocolOperations(calls = new Map<string, number>()): Array<Operation<any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const tags = new Map<string, Record<string, string>>();
  return [
    operation({
      name: 'DescribeFlow',
      method: 'POST',
      path: '/describe-flow',
      readOnly: true,
      input: z.object({ flowName: z.string().regex(/^[a-zA-Z0-9][\w!@#.-]+$/, 'Member must satisfy regular expression pattern: [a-zA-Z0-9][\\w!@#.-]+').max(256) }),
      async handle(input, ctx) {
        if (input.flowName === 'missing') throw new ApiError('ResourceNotFoundException', `Flow ${input.flowName} does not exist.`);
        if (input.flowName === 'locked') throw new ForceflowError('FLOW_LOCKED', 'Flow locked is running (execution e-1).');
        if (input.flowName === 'broken') throw new Error('database password=hunter2 at /secret/path');
        return {
          flowName: input.flowName,
          flowArn: `arn:aws:appflow:${ctx.region}:${ctx.accountId}:flow/${input.flowName}`,
          flowStatus: 'Active',
          createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, 123)),
          lastUpdatedAt: ctx.now(),
          createdBy: ctx.caller.arn,
          description: undefined,
        };
      },
    }),
    operation({
      name: 'CreateFlow',
      method: 'POST',
      path: '/create-flow',
      readOnly: false,
      input: z.object({ flowName: z.string().min(1), description: z.string().max(2048).optional(), clientToken: z.string().optional() }).passthrough(),
      async handle(input, ctx) {
        calls.set('CreateFlow', (calls.get('CreateFlow') ?? 0) + 1);
        return { flowArn: `arn:aws:appflow:${ctx.region}:${ctx.accountId}:flow/${input.flowName}`, flowStatus: 'Draft' };
      },
    }),
    operation({
      name: 'ListTagsForResource',
      method: 'GET',
      path: '/tags/{resourceArn}',
      readOnly: true,
      input: z.object({ resourceArn: z.string().startsWith('arn:') }),
      async handle(input) {
        return { tags: { ...(tags.get(input.resourceArn) ?? {}), echoedArn: input.resourceArn } };
      },
    }),
    operation({
      name: 'TagResource',
      method: 'POST',
      path: '/tags/{resourceArn}',
      readOnly: false,
      input: z.object({ resourceArn: z.string().startsWith('arn:'), tags: z.record(z.string(), z.string()) }),
      async handle(input) {
        tags.set(input.resourceArn, { ...(tags.get(input.resourceArn) ?? {}), ...input.tags });
        return {};
      },
    }),
    operation({
      name: 'UntagResource',
      method: 'DELETE',
      path: '/tags/{resourceArn}',
      readOnly: false,
      input: z.object({ resourceArn: z.string().startsWith('arn:'), tagKeys: z.array(z.string()).min(1) }),
      async handle(input) {
        const current = { ...(tags.get(input.resourceArn) ?? {}) };
        for (const k of input.tagKeys) delete current[k];
        tags.set(input.resourceArn, current);
        return {};
      },
    }),
  ];
}
