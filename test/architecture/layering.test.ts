/**
 * The dependency rules of docs/DESIGN.md ("Layers"), checked on the import
 * statements of every file under src/: the Delta core and the layers below
 * it never reach up, nothing below the ingest core imports it (adapters see
 * only its ports), and neither folders nor files import each other in a
 * cycle.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.ts';

const SRC = path.join(REPO_ROOT, 'src');

/** Files at the top of src/ that every layer may use: they import nothing but each other. */
const BASE = new Set(['errors.ts', 'logger.ts', 'time.ts', 'worker-pool.ts']);

/** What each lower folder may import besides itself and BASE. */
const ALLOWED: Record<string, string[]> = {
  os: [],
  storage: [],
  parquet: ['storage'],
  delta: ['parquet', 'storage'],
};

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, re-exports and dynamic), as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)));
}

const folderOf = (rel: string) => (rel.includes(path.sep) ? rel.split(path.sep)[0] : rel);

const graph = new Map(sourceFiles(SRC).map((f) => [path.relative(SRC, f), importsOf(f)]));

/** A cycle in `edges`, as the list of its nodes, or null. */
function findCycle(edges: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of edges.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe('layering of src/', () => {
  it('finds the source files and their imports', () => {
    assert.ok(graph.size > 50);
    assert.ok(graph.get(path.join('delta', 'table.ts'))!.includes(path.join('delta', 'snapshot.ts')));
  });

  it('the base files import only each other', () => {
    for (const base of BASE) {
      for (const dep of graph.get(base) ?? []) assert.ok(BASE.has(dep), `${base} imports ${dep}`);
    }
  });

  it('the lower folders import only what lies below them', () => {
    const bad: string[] = [];
    for (const [file, deps] of graph) {
      const allowed = ALLOWED[folderOf(file)];
      if (!allowed) continue;
      for (const dep of deps) {
        const to = folderOf(dep);
        if (to !== folderOf(file) && !BASE.has(dep) && !allowed.includes(to)) bad.push(`${file} -> ${dep}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('nothing below the ingest core imports it, except an adapter implementing its ports', () => {
    const above = new Set(['ingest', 'metrics', 'service', 'cli', 'index.ts']);
    const bad = [...graph].flatMap(([file, deps]) =>
      above.has(folderOf(file))
        ? []
        : deps
            .filter((d) => folderOf(d) === 'ingest' && d !== path.join('ingest', 'ports.ts'))
            .map((d) => `${file} -> ${d}`),
    );
    assert.deepEqual(bad, []);
  });

  it('no cycle between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const [file, deps] of graph) {
      const from = folderOf(file);
      if (BASE.has(from)) continue;
      for (const d of deps) {
        const to = folderOf(d);
        if (to !== from && !BASE.has(to)) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    assert.equal(findCycle(edges)?.join(' -> ') ?? null, null);
  });

  it('no cycle between files (dynamic imports included)', () => {
    const edges = new Map([...graph].map(([f, deps]) => [f, new Set(deps)]));
    assert.equal(findCycle(edges)?.join(' -> ') ?? null, null);
  });

  it('the cycle finder finds a cycle', () => {
    const edges = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
    ]);
    assert.deepEqual(findCycle(edges), ['a', 'b', 'c', 'a']);
  });
});
