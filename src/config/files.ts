/** Reading config.yaml and creds.json (the only file I/O of configuration). */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, fromEnv, resolveConfig, type Config, type RawConfig } from './config.ts';

function readIfExists(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError([`${path}: cannot read (${(err as Error).message})`]);
  }
}

export interface LoadConfigOptions {
  cwd: string;
  configPath?: string;
  credsPath?: string;
  env: Record<string, string | undefined>;
  flags: RawConfig;
}

export function loadConfig(o: LoadConfigOptions): Readonly<Config> {
  const problems: string[] = [];
  const cfgPath = nodePath.resolve(o.cwd, o.configPath ?? 'config.yaml');
  const credsPath = nodePath.resolve(o.cwd, o.credsPath ?? 'creds.json');
  let file: RawConfig = {};
  const text = readIfExists(cfgPath);
  if (text === null && o.configPath) problems.push(`${cfgPath}: file not found`);
  if (text !== null) {
    try {
      const v = parseYaml(text);
      if (v !== null && v !== undefined) {
        if (typeof v !== 'object' || Array.isArray(v)) problems.push(`${cfgPath}: must be a mapping of keys to values`);
        else file = v as RawConfig;
      }
    } catch (err) {
      problems.push(`${cfgPath}: invalid YAML (${(err as Error).message.split('\n')[0]})`);
    }
  }
  let creds: RawConfig = {};
  const ctext = readIfExists(credsPath);
  if (ctext === null && o.credsPath) problems.push(`${credsPath}: file not found`);
  if (ctext !== null) {
    try {
      const v = JSON.parse(ctext);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) problems.push(`${credsPath}: must be a JSON object`);
      else creds = v as RawConfig;
    } catch {
      // never echo the file: it holds secrets
      problems.push(`${credsPath}: invalid JSON`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const env = fromEnv(o.env);
  return resolveConfig(
    [
      [nodePath.basename(cfgPath), file],
      ['environment', env.config],
      ['flags', o.flags],
    ],
    [
      [nodePath.basename(credsPath), creds],
      ['environment', env.creds],
    ],
  );
}
