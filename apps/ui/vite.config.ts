import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/** The page: plain TypeScript + lit-html, built into apps/ui/dist (served by the gateway; nothing external). */
export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: { outDir: fileURLToPath(new URL('./dist', import.meta.url)), emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
})
