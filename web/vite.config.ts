// The console is built into dist/ (gitignored) by `./vo2 setup` from package-lock.json; the gateway serves it at /.
// Hashed file names under /assets/ are cached for a year; index.html is never cached.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    // the strict CSP (no inline script or style) forbids Vite's inlined small assets: every asset is a file
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts", "tests/**/*.test.tsx"],
  },
});
