// ESLint: the type-checked rules on, plus the ones STYLE.md names.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A library's unpublished files: only src/internals/ may import them, each with a contract test. */
const LIBRARY_INTERNALS = {
  regex: '^(smtp-server/lib|nodemailer/lib|bullmq/dist|ioredis/built)/',
  message: "a library's internals are reached only from src/internals/ (with a test that fails when it changes)",
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'var/', 'coverage/', 'bin/', 'deploy/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // One clock (src/clock.ts): time is read there only, as the injected clock or as wall time.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/clock.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message:
            "read time through src/clock.ts: the injected clock (decisions) or wallClock/Deadline (timeouts, BullMQ's times)",
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'new Date() reads the time: take it from the injected clock or wallClock (src/clock.ts)',
        },
      ],
    },
  },
  // The rooms' boundaries (docs/design.md): policy is pure, and SMTP intake and delivery meet only
  // through the queue (src/queue/), never by importing each other or each other's libraries; and
  // only src/internals/ reaches into the chosen libraries' unpublished files.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/internals/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [LIBRARY_INTERNALS] }],
    },
  },
  {
    files: ['src/policy/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./)', message: 'policy is pure: it imports only from src/policy/.' }] },
      ],
    },
  },
  {
    files: ['src/smtp/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)delivery/|^nodemailer$', message: 'SMTP intake reaches delivery only through src/queue/.' },
            LIBRARY_INTERNALS,
          ],
        },
      ],
    },
  },
  {
    files: ['src/delivery/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '(^|/)smtp/|^smtp-server', message: 'delivery reaches SMTP intake only through src/queue/.' },
            LIBRARY_INTERNALS,
          ],
        },
      ],
    },
  },
  // The CLI is a client of the admin API: values only from admin/api.ts, config/ and errors.ts
  // (types from anywhere), so that `holdfast status` never loads the server (npm run bench:cli).
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^\\.\\./(admin/(?!api\\.js$)|app\\.js$|delivery/|internals/|observability/|process/|queue/|redis/|routing/|smtp/|wiring/)',
              allowTypeImports: true,
              message:
                'the CLI imports values only from admin/api.ts, config/ and errors.ts: it must not load the server',
            },
            {
              regex: '^(bullmq|ioredis|fastify|smtp-server|nodemailer|pino)($|/)',
              allowTypeImports: true,
              message: 'the CLI talks to the admin API; it does not load the server libraries',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
