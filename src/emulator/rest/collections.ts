import type { Router } from '../http.ts';

export function registerCollectionRoutes(_router: Router): void {}
