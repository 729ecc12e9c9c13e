/**
 * The repository is self-contained: no source, test, benchmark or script reads a path outside it (such as the
 * project's `../shared` folder). Every string and template literal of every TypeScript / JavaScript file is inspected
 * with the TypeScript parser (comments, which cite `../shared/reference/…` documents, are not code and are skipped).
 * `.ci/run` complements this by running the whole suite in a fresh clone with nothing beside it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
const OUTSIDE = /(^|[\\/])shared([\\/]|$)|^\/work\//;

function literals(file: string): { text: string; line: number }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { text: string; line: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      found.push({ text: node.text, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
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
    for (const { text, line } of literals(file)) {
      // A literal that is only the word (e.g. join('..', 'shared')) or a path through a `shared` directory.
      if (text === 'shared' || OUTSIDE.test(text)) offenders.push(`${relative(repoRoot, file)}:${line}: ${JSON.stringify(text.slice(0, 80))}`);
    }
  }
  assert.deepEqual(offenders, []);
});

test('the detector finds the forms it is meant to find', () => {
  const probe = (code: string): boolean => {
    const s = ts.createSourceFile('x.ts', code, ts.ScriptTarget.Latest, true);
    let hit = false;
    const visit = (n: ts.Node): void => {
      if (ts.isStringLiteralLike(n) && (n.text === 'shared' || OUTSIDE.test(n.text))) hit = true;
      ts.forEachChild(n, visit);
    };
    visit(s);
    return hit;
  };
  assert.equal(probe("join(root, '..', 'shared', 'testdata')"), true);
  assert.equal(probe("readFileSync('../shared/testdata/x')"), true);
  assert.equal(probe('const p = `/work/shared/reference`;'), true);
  assert.equal(probe("// see ../shared/reference/x.md\nconst a = 'testdata/dcap';"), false);
  assert.equal(probe("const sharedSecret = 'shared-secret';"), false);
});

test('the corpus the tests read is in the repository, with its provenance', () => {
  for (const p of ['testdata/PROVENANCE.md', 'testdata/FORMAT.md', 'testdata/dcap', 'testdata/ratls', 'testdata/oe']) {
    assert.ok(existsSync(join(repoRoot, p)), p);
  }
});
