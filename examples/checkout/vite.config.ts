import { defineConfig } from 'vite';

// The page's sources are in page/; the merchant's server serves the build from dist/page.
export default defineConfig({
  root: 'page',
  build: { outDir: '../dist/page', emptyOutDir: true },
});
