import type { Router } from '../http.ts';

export function registerAwsRoutes(_router: Router): void {}
