import type { Router } from '../http.ts';

export function registerQueryRoutes(_router: Router): void {}
