/**
 * forceflow's library entry point.
 */
export { startEmulator } from './emulator/index.ts';
export type { EmulatorOptions, EmulatorInfo, RunningEmulator } from './emulator/index.ts';
export { ForceflowError, ERRORS, isForceflowError } from './core/errors.ts';
export type { ErrorCode, ErrorKind } from './core/errors.ts';
export type * from './core/types.ts';
export type * from './core/connector.ts';
