import type { Router } from '../http.ts';

export function registerRestRoutes(_router: Router): void {}
