#!/usr/bin/env node
// Writes dist/ui/dashboard.js and dist/ui/dashboard.css (for packaging, where esbuild may be absent at run time).
// Needs the TypeScript build first (tsc -b packages/dashboard).
import { mkdirSync, writeFileSync } from 'node:fs';
import { bundleDashboardScript } from '../dist/src/assets.js';
import { DASHBOARD_CSS } from '../dist/src/ui/styles.js';

const out = new URL('../dist/ui/', import.meta.url);
mkdirSync(out, { recursive: true });
writeFileSync(new URL('dashboard.js', out), await bundleDashboardScript());
writeFileSync(new URL('dashboard.css', out), DASHBOARD_CSS);
console.log('dashboard: wrote dist/ui/dashboard.js and dist/ui/dashboard.css');
