export * from './actions.ts';
export * from './schema.ts';
export * from './values.ts';
export * from './snapshot.ts';
export * from './scan.ts';
export * from './features.ts';
export * from './replay.ts';
export * from './log-path.ts';
