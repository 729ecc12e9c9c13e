// Builds the example's verifying page into ONE static file, web/dist/index.html (the script inlined), to be opened
// from disk — not served by the host being verified (see README.md). Needs the packages built (npm run build).
// Usage: node examples/confidential-ocr/build-page.mjs [OUT_FILE]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function buildPage(outFile = fileURLToPath(new URL('./web/dist/index.html', import.meta.url))) {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./web/page.ts', import.meta.url))],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = result.outputFiles[0]?.text ?? '';
  if (/\brequire\(\s*["']node:/.test(script)) throw new Error('the page bundle requires a Node built-in');
  const html = readFileSync(new URL('./web/index.html', import.meta.url), 'utf8').replace(
    '<!--PAGE_SCRIPT-->',
    // </script> cannot appear inside: esbuild escapes it in string literals.
    () => `<script>${script}</script>`,
  );
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, html);
  return { outFile, bytes: html.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outFile, bytes } = await buildPage(process.argv[2]);
  console.log(`${outFile} (${bytes} bytes)`);
}
