import type { Router } from '../http.ts';

export function registerOAuthRoutes(_router: Router): void {}
