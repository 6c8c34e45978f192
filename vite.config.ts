import { defineConfig } from 'vite';

// The browser app (web/) is built into dist/web, which `medsam2 serve` serves at `/`.
export default defineConfig({
  root: 'web',
  base: './',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    // NiiVue is one large module; splitting it gains nothing for a local app.
    chunkSizeWarningLimit: 4096,
  },
  server: { host: '127.0.0.1' },
});
