/**
 * Running Python (delta-rs via `deltalake`, Polars) from interop tests.
 *
 * The interpreter comes from the project-managed virtualenv created by
 * `scripts/pyenv.sh` (idempotent; run at most once per process). Any failure —
 * provisioning the venv, a Python exception, output that is not JSON — throws
 * with Python's stderr, so a broken Python setup fails the tests instead of
 * skipping them.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from './fixtures.ts';

let cachedPython: string | undefined;

/** Path of the virtualenv's python (runs `scripts/pyenv.sh` on first use). */
export function pythonPath(): string {
  if (cachedPython !== undefined) return cachedPython;
  let out: string;
  try {
    out = execFileSync('bash', [path.join(REPO_ROOT, 'scripts/pyenv.sh')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 15 * 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string | Buffer; message: string };
    throw new Error(`scripts/pyenv.sh failed: ${e.message}\n${String(e.stderr ?? '')}`);
  }
  const lines = out.trim().split('\n');
  const python = lines[lines.length - 1]?.trim();
  if (!python) throw new Error(`scripts/pyenv.sh printed no python path (stdout: ${JSON.stringify(out)})`);
  cachedPython = python;
  return python;
}

/**
 * Run a Python snippet (`python -c script args...`) and return the JSON value
 * it prints on stdout (the whole stdout, or else its last non-empty line).
 * Throws with stderr when Python exits non-zero or prints no JSON.
 */
export function runPython(script: string, args: string[] = []): any {
  const python = pythonPath();
  const res = spawnSync(python, ['-c', script, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 5 * 60_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (res.error) throw new Error(`cannot run ${python}: ${res.error.message}\n${res.stderr ?? ''}`);
  if (res.status !== 0) {
    throw new Error(
      `python exited with ${res.status ?? res.signal}:\n${res.stderr}\n--- stdout ---\n${res.stdout.slice(0, 4000)}`,
    );
  }
  const stdout = res.stdout.trim();
  try {
    return JSON.parse(stdout);
  } catch {
    const lines = stdout.split('\n').filter((l) => l.trim() !== '');
    const last = lines[lines.length - 1];
    try {
      if (last !== undefined) return JSON.parse(last);
    } catch {
      // fall through
    }
    throw new Error(`python printed no JSON on stdout:\n${stdout.slice(0, 4000)}\n--- stderr ---\n${res.stderr}`);
  }
}

/**
 * Python prelude for interop scripts. `rows_of(table, polars=False)` turns a
 * pyarrow Table (delta-rs, or Polars' `df.to_arrow()`) into a list of plain JSON
 * row dicts, driven by the Arrow type of each column, in the form the tests
 * compare against (see `normalizeDelta` in the interop test):
 *   integers -> decimal string (exact for longs)   floats -> number, or "NaN"/"Infinity"/"-Infinity"
 *   decimal -> plain string with its scale          binary -> lowercase hex
 *   date -> "YYYY-MM-DD"
 *   timestamp with zone -> "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC); without zone -> same without "Z"
 *   struct -> dict; list -> list
 *   map -> {"__map__": [[k, v], ...]}; with polars=True also list<struct<key, value>>,
 *          because Polars has no map type and reads maps as lists of key/value structs.
 * `emit(obj)` prints JSON on stdout and ends the process immediately (must come last).
 */
export const PY_PRELUDE = String.raw`
import os, sys, json, math, datetime, decimal
import pyarrow as pa

def _ts(dt, zoned):
    if dt.tzinfo is not None:
        dt = dt.astimezone(datetime.timezone.utc)
    return '%04d-%02d-%02dT%02d:%02d:%02d.%06d%s' % (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond, 'Z' if zoned else '')

def _is_list(t):
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t)

def _kv_struct(t):
    return pa.types.is_struct(t) and t.num_fields == 2 and t.field(0).name == 'key' and t.field(1).name == 'value'

def norm(v, t, polars=False):
    if v is None:
        return None
    if pa.types.is_dictionary(t):
        return norm(v, t.value_type, polars)
    if pa.types.is_map(t):
        return {'__map__': [[norm(k, t.key_type, polars), norm(x, t.item_type, polars)] for k, x in v]}
    if polars and _is_list(t) and _kv_struct(t.value_type):
        st = t.value_type
        return {'__map__': [[norm(e['key'], st.field(0).type, polars), norm(e['value'], st.field(1).type, polars)] for e in v]}
    if pa.types.is_struct(t):
        return {t.field(i).name: norm(v.get(t.field(i).name), t.field(i).type, polars) for i in range(t.num_fields)}
    if _is_list(t):
        return [norm(e, t.value_type, polars) for e in v]
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_integer(t):
        return str(int(v))
    if pa.types.is_floating(t):
        f = float(v)
        if math.isnan(f):
            return 'NaN'
        if math.isinf(f):
            return 'Infinity' if f > 0 else '-Infinity'
        return f
    if pa.types.is_decimal(t):
        return format(v, 'f')
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t):
        return bytes(v).hex()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return str(v)
    if pa.types.is_timestamp(t):
        return _ts(v, t.tz is not None)
    if pa.types.is_date(t):
        return '%04d-%02d-%02d' % (v.year, v.month, v.day)
    raise TypeError('cannot normalise %r of type %s' % (v, t))

def rows_of(table, polars=False):
    schema = table.schema
    out = []
    for r in table.to_pylist():
        out.append({f.name: norm(r[f.name], f.type, polars) for f in schema})
    return out

def emit(obj):
    # Print the result and end the process at once. Skipping interpreter
    # teardown avoids a known intermittent abort at exit ("terminate called
    # without an active exception", SIGABRT) when Arrow/delta-rs background
    # threads outlive Python's finalisation (delta-io/delta-rs#2184,
    # pola-rs/polars#24169). All work is complete when emit() is called.
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, allow_nan=False))
    sys.stdout.write('\n')
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
`;
