import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The build is embedded in the switchboard binary (crates/console) and served by the call center.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The console, and the API docs page every role serves at `/docs` (crates/console's docs_routes).
    rollupOptions: { input: { main: 'index.html', docs: 'docs.html' } },
    // Swagger UI is one 1.5 MB script (430 kB gzipped), loaded by the docs page only.
    chunkSizeWarningLimit: 2000,
  },
  // Store tests run Svelte's client runtime (runes stay reactive) in Node.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
}));
