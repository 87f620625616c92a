// Lint: typescript-eslint's recommended rules, and the layer rule of DESIGN.md stated as import
// restrictions (madge checks cycles; this checks direction and who may import which library).
import tseslint from 'typescript-eslint';

/** Imports of our own folders, as the import string names them (`../queue/x.js`, `../../cli/y.js`). */
const ours = (...folders) =>
  folders.map((f) => ({
    group: [`**/${f}/*`, `**/${f}`],
    message: `this layer may not import src/${f} (see the layer rule in DESIGN.md)`,
  }));
const libs = {
  queue: { group: ['bullmq', 'bullmq/*', 'ioredis', 'ioredis/*'], message: 'only src/queue imports bullmq and ioredis' },
  store: { group: ['better-sqlite3'], message: 'only src/store imports better-sqlite3' },
  tasks: { group: ['sharp'], message: 'only src/tasks imports sharp' },
  web: {
    group: ['fastify', 'fastify/*', '@fastify/*', 'hono', 'hono/*', '@hono/*', 'prom-client', 'typebox', 'typebox/*'],
    message: 'only src/web imports the HTTP framework and the metrics library',
  },
};
const except = (layer) =>
  Object.entries(libs)
    .filter(([k]) => k !== layer)
    .map(([, v]) => v);
const restrict = (files, patterns) => ({ files, rules: { 'no-restricted-imports': ['error', { patterns }] } });

export default tseslint.config(
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', '.tq/**', 'media/**', '.test-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // Deliberate `any` is rare and visible in review; unused values are real mistakes.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      // A variable a closure reads before its one assignment (a handle set once started) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  // Layers, from the bottom: core imports nothing of ours.
  restrict(
    ['src/core/**'],
    [...except('none'), ...ours('queue', 'beat', 'store', 'config', 'tasks', 'runtime', 'cli', 'monitor', 'web', 'client')],
  ),
  // The broker layer implements interfaces that beat and config state (a schedule store, the resolved
  // config's types), so it may read those two; never the store, tasks or anything above.
  restrict(['src/queue/**'], [...except('queue'), ...ours('store', 'tasks', 'runtime', 'cli', 'monitor', 'web', 'client')]),
  restrict(
    ['src/store/**'],
    [...except('store'), ...ours('queue', 'beat', 'config', 'tasks', 'runtime', 'cli', 'monitor', 'web', 'client')],
  ),
  restrict(['src/tasks/**'], [...except('tasks'), ...ours('runtime', 'cli', 'monitor', 'web', 'client')]),
  restrict(['src/beat/**', 'src/config/**'], [...except('none'), ...ours('runtime', 'cli', 'monitor', 'web', 'client')]),
  restrict(['src/runtime/**'], [...except('none'), ...ours('cli', 'monitor', 'web', 'client')]),
  restrict(['src/monitor/**', 'src/client/**'], [...except('none'), ...ours('cli', 'web')]),
  // tq web: the only layer that imports the HTTP framework, its schemas (typebox) and the metrics library.
  restrict(['src/web/**'], [...except('web'), ...ours('cli', 'monitor')]),
  restrict(['src/cli/**', 'src/index.ts'], [...except('none')]),
  {
    files: ['test/**', 'bench/**', '*.config.ts', 'tasks.config.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
