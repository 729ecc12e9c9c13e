/**
 * A small RFC 6902 JSON Patch applier for the tests (add, remove, replace, test), independent of the webhook's
 * planner: paths are RFC 6901 pointers ("~1" = "/", "~0" = "~"), "-" appends to an array, `add` on an existing
 * object member replaces it (§4.1), and an operation whose parent does not exist fails (§4.1, §5).
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface Operation {
  readonly op: string;
  readonly path: string;
  readonly value?: unknown;
}

function tokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`bad pointer ${path}`);
  return path.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

export function applyPatch<T>(doc: T, ops: readonly Operation[]): T {
  let root = clone(doc) as unknown as Json;
  for (const op of ops) {
    const t = tokens(op.path);
    if (t.length === 0) {
      if (op.op === 'add' || op.op === 'replace') root = clone(op.value) as Json;
      continue;
    }
    let parent: Json = root;
    for (const k of t.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(k)] : parent !== null && typeof parent === 'object' ? parent[k] : undefined;
      if (next === undefined || next === null || typeof next !== 'object') throw new Error(`path ${op.path}: parent missing`);
      parent = next;
    }
    const last = t[t.length - 1]!;
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`path ${op.path}: bad index`);
      if (op.op === 'add') parent.splice(i, 0, clone(op.value) as Json);
      else if (op.op === 'remove') parent.splice(i, 1);
      else if (op.op === 'replace') parent[i] = clone(op.value) as Json;
      else if (op.op === 'test' && JSON.stringify(parent[i]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else if (parent !== null && typeof parent === 'object') {
      if (op.op === 'add') parent[last] = clone(op.value) as Json;
      else if (op.op === 'remove' || op.op === 'replace') {
        if (!(last in parent)) throw new Error(`path ${op.path}: member missing`);
        if (op.op === 'remove') delete parent[last];
        else parent[last] = clone(op.value) as Json;
      } else if (op.op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else throw new Error(`path ${op.path}: parent is not a container`);
  }
  return root as unknown as T;
}
