export { checkDestinationFolder, createLocalFileDestination } from './destination.ts';
export type { LocalFileDestinationDeps } from './destination.ts';
export { createLocalFileSource } from './source.ts';
export { createFolderStore, entityFromPath, resolvePath } from './folder.ts';
export type { FolderStoreOptions } from './folder.ts';
export * from './config.ts';
