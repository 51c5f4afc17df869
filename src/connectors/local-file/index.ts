export { createLocalFileDestination, resolvePath } from './destination.ts';
export type { LocalFileDestinationDeps } from './destination.ts';
export { createLocalFileSource } from './source.ts';
export { createFolderStore, entityFromPath } from './folder.ts';
export * from './config.ts';
