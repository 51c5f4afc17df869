import type { Operation } from '../operation.ts';
import { flowOperations, type FlowOperationDeps } from './flows.ts';

export interface ServiceOperationDeps {
  readonly flows: FlowOperationDeps;
}

/** Every AppFlow operation the service answers, composed from each part's factory. */
export function serviceOperations(deps: ServiceOperationDeps): Operation[] {
  return [...flowOperations(deps.flows)];
}
