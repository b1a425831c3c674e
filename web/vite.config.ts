/**
 * Builds the example dashboard into dist/web (served at `/` by the API process,
 * src/app/static.ts). Everything is bundled: no CDN, works offline.
 * `npm run build:web` runs this; tests call `buildDashboard()` with their own outDir.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
