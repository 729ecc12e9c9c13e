/**
 * The front-end: one JavaScript bundle (esbuild, from the compiled `dist/src/ui/main.js`, browser target, minified,
 * no source map — the same input gives the same bytes) and one style sheet (`ui/styles.ts`), plus the HTML shell that
 * loads them. The bundle is built once per process at first use and kept in memory; where esbuild is not installed
 * it is read from `dist/ui/dashboard.js`, which `npm run build:ui -w @cloister/dashboard` writes for packaging.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ServiceError } from '@cloister/service-kit';
import { DASHBOARD_CSS } from './ui/styles.js';

const ENTRY = fileURLToPath(new URL('./ui/main.js', import.meta.url));
const PREBUILT = fileURLToPath(new URL('../ui/dashboard.js', import.meta.url));

export interface DashboardAssets {
  readonly js: string;
  readonly css: string;
}

/** Bundles the front-end with esbuild (throws when esbuild is not installed). */
export async function bundleDashboardScript(): Promise<string> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome110', 'firefox115', 'safari16'],
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no output');
  return file.text;
}

let cached: Promise<DashboardAssets> | undefined;

/** The bundle and style sheet (built once per process). */
export function dashboardAssets(): Promise<DashboardAssets> {
  cached ??= (async () => {
    let js: string;
    try {
      js = await bundleDashboardScript();
    } catch (e) {
      try {
        js = await readFile(PREBUILT, 'utf8');
      } catch {
        cached = undefined;
        throw new ServiceError('DASHBOARD_UNAVAILABLE', 500, 'the dashboard bundle is missing (install esbuild or run npm run build:ui)', undefined, { cause: e });
      }
    }
    return { js, css: DASHBOARD_CSS };
  })();
  return cached;
}

/** The HTML shell: no data, no inline script or style; `base` is the mount path (validated by the caller). */
export function dashboardHtml(base: string, title: string): string {
  const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${esc(base)}/dashboard.css">
<script src="${esc(base)}/dashboard.js" defer></script>
</head>
<body data-base="${esc(base)}" data-title="${esc(title)}">
<noscript>The Cloister dashboard needs JavaScript.</noscript>
</body>
</html>
`;
}
