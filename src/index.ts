export * from './errors.ts';
export * from './storage/index.ts';
export * from './delta/index.ts';
