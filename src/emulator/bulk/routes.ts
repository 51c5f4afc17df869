import type { Router } from '../http.ts';

export function registerBulkRoutes(_router: Router): void {}
