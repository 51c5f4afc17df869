import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ForceflowError } from '../core/errors.ts';
import { compileFlow } from './compile.ts';
import type { FlowPlan } from './compile.ts';
import type { FlowDefinition } from './schema.ts';
import type { ConnectorRegistry } from '../connectors/registry.ts';
import { flowInvalid, parseJsonText } from './validate.ts';

export interface LoadedFlow {
  readonly file: string;
  /** The flow file's folder: relative LocalFile paths resolve from it. */
  readonly flowFileDir: string;
  /** The validated definition (plan.definition). */
  readonly flow: FlowDefinition;
  readonly plan: FlowPlan;
}

/**
 * Reads a flow file, and validates and compiles it once (what `forceflow run` and `forceflow validate` do):
 * the plan is what runs (runPlan).
 * Throws FILE_NOT_FOUND when the file is missing and FLOW_INVALID (message names the file and every
 * problem's JSON path) when it is not a valid flow.
 */
export async function loadFlowFile(file: string, options: { readonly registry?: ConnectorRegistry } = {}): Promise<LoadedFlow> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') {
      throw new ForceflowError('CONFIG_INVALID', `Flow file ${file} is a folder, not a file. Give the flow definition's JSON file.`, { details: { file: path }, cause: error });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ForceflowError('FILE_NOT_FOUND', `Flow file ${file} does not exist. Check the path.`, { details: { file: path }, cause: error });
    }
    throw new ForceflowError('CONFIG_INVALID', `Flow file ${file} cannot be read: ${(error as Error).message}.`, { details: { file: path }, cause: error });
  }
  const json = parseJsonText(text.replace(/^\uFEFF/, ''), file);
  // Valid JSON that is a string: validateFlow would take it for JSON text and parse it again.
  if (typeof json === 'string') {
    throw flowInvalid([{ path: '(root)', message: 'is a JSON string, not an object. A flow definition is a JSON object: { "flowName": ..., "sourceFlowConfig": ..., ... }.' }], file);
  }
  const flowFileDir = dirname(path);
  const plan = compileFlow(json, { baseDir: flowFileDir, source: file, ...(options.registry ? { registry: options.registry } : {}) });
  return { file: path, flowFileDir, flow: plan.definition, plan };
}
