import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The operator HMI: plain TypeScript modules bundled into hmi/dist, which the
 * gateway serves itself. Everything the page uses is in the bundle: no
 * fonts, scripts or styles from the internet.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Touchscreen PCs are small: keep one readable bundle, no inline data URIs.
    assetsInlineLimit: 0,
    sourcemap: true,
    // Two pages: the operator HMI and the engineer dashboard (/dashboard).
    rolldownOptions: { input: { index: fileURLToPath(new URL('index.html', import.meta.url)), dashboard: fileURLToPath(new URL('dashboard.html', import.meta.url)) } },
  },
  server: {
    // `npx vite hmi` during development: the API comes from a gateway on 8080.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
