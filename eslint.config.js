// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.tmp/**', 'tools/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    // The web console: browser modules (no build), type-checked by `tsc -p tsconfig.console.json`.
    files: ['console/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', history: 'readonly', sessionStorage: 'readonly', crypto: 'readonly', btoa: 'readonly', Event: 'readonly', Node: 'readonly', HTMLElement: 'readonly', HTMLSelectElement: 'readonly', CSS: 'readonly', URLSearchParams: 'readonly' } },
  },
  {
    files: ['src/cli/**', 'bench/**', 'scripts/**', 'bin/**', 'src/emulator/main.ts'],
    rules: { 'no-console': 'off' },
  },
);
