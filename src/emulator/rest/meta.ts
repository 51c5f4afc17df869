import type { Router } from '../http.ts';

export function registerMetaRoutes(_router: Router): void {}
