import type { Router } from '../http.ts';

export function registerRecordRoutes(_router: Router): void {}
