import type { Router } from './http.ts';

export function registerControlRoutes(_router: Router): void {}
