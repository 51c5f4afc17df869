/** What an AWS SDK client (or any call) rejects with: the error, with the SDK's response metadata when it has it. */
export type Rejection = Error & { name: string; $metadata?: { httpStatusCode?: number }; $response?: unknown };

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Rejection> {
  try {
    await p;
  } catch (error) {
    return error as Rejection;
  }
  throw new Error('expected the call to fail');
}

/** The AWS error name and HTTP status a promise rejects with (fails the test when it resolves). */
export async function awsRejection(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  const e = await rejection(p);
  return { name: e.name, status: e.$metadata?.httpStatusCode };
}
