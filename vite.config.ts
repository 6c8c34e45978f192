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
    // Two pages: the scan app (index.html) and the annotation-project pages (projects.html).
    rollupOptions: { input: { index: 'web/index.html', projects: 'web/projects.html' } },
  },
  server: { host: '127.0.0.1' },
});
