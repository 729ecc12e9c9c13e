/**
 * The repository is self-contained: no source, test, benchmark or script reads a path outside it (such as the
 * project's `../shared` folder). Every string and template literal of every TypeScript / JavaScript file is inspected
 * with the TypeScript parser (comments, which cite `../shared/reference/…` documents, are not code and are skipped).
 * `.ci/run` complements this by running the whole suite in a fresh clone with nothing beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '@cloister/testkit';

const SKIP_DIRS = new Set(['node_modules', 'dist', 'gen', '.git']);

function sourceFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP_DIRS.has(name)) sourceFiles(path, out);
    } else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** A path segment `shared` (`../shared`, `'..', 'shared'`, `/work/shared/…`), or an absolute path to the workspace. */
const OUTSIDE = /(^|[\\/])shared[\\/]|[\\/]shared$|^\/work\//;

/** A call that builds a path: join(…), resolve(…), path.join(…), new URL(…). */
function isPathCall(node: ts.Node | undefined): boolean {
  if (node === undefined) return false;
  if (ts.isNewExpression(node)) return ts.isIdentifier(node.expression) && node.expression.text === 'URL';
  if (!ts.isCallExpression(node)) return false;
  const callee = node.expression;
  const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '';
  return name === 'join' || name === 'resolve';
}

/**
 * String and template literals that name a path outside the repository: a path through a `shared` directory
 * (`../shared/…`, `/work/shared/…`), or the bare segment `'shared'` given to a path-building call
 * (`join(root, '..', 'shared')`) — a key or a value named "shared" elsewhere is not a path.
 */
function outsidePaths(file: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { text: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const text = node.text;
      if (OUTSIDE.test(text) || (text === 'shared' && isPathCall(node.parent))) {
        found.push({ text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

test('no source, test, bench or script refers to a path outside the repository', () => {
  const roots = [
    ...readdirSync(join(repoRoot, 'packages')).flatMap((p) => [join(repoRoot, 'packages', p, 'src'), join(repoRoot, 'packages', p, 'test')]),
    join(repoRoot, 'bench'),
    join(repoRoot, 'scripts'),
    join(repoRoot, 'examples'),
  ];
  // This file holds the forms it looks for, as probes.
  const files = roots.flatMap((r) => sourceFiles(r)).filter((f) => !f.endsWith(join('test', 'self-contained.test.ts')));
  assert.ok(files.length > 100, `found only ${files.length} files`);
  const offenders: string[] = [];
  for (const file of files) {
    for (const { text, line } of outsidePaths(file)) offenders.push(`${relative(repoRoot, file)}:${line}: ${JSON.stringify(text.slice(0, 80))}`);
  }
  assert.deepEqual(offenders, []);
});

test('the detector finds the forms it is meant to find', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cloister-probe-'));
  const probe = (code: string): boolean => {
    const file = join(dir, 'probe.ts');
    writeFileSync(file, code);
    return outsidePaths(file).length > 0;
  };
  assert.equal(probe("join(root, '..', 'shared', 'testdata')"), true);
  assert.equal(probe("readFileSync('../shared/testdata/x')"), true);
  assert.equal(probe('const p = `/work/shared/reference`;'), true);
  assert.equal(probe("// see ../shared/reference/x.md\nconst a = 'testdata/dcap';"), false);
  assert.equal(probe("const sharedSecret = 'shared-secret';"), false);
  assert.equal(probe("broker.release(url, 'shared', undefined);"), false);
  assert.equal(probe("path.resolve(here, '..', 'shared')"), true);
  rmSync(dir, { recursive: true, force: true });
});

test('the corpus the tests read is in the repository, with its provenance', () => {
  for (const p of ['testdata/PROVENANCE.md', 'testdata/FORMAT.md', 'testdata/dcap', 'testdata/ratls', 'testdata/oe']) {
    assert.ok(existsSync(join(repoRoot, p)), p);
  }
});
