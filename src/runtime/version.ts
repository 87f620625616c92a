import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** This tq's version, from package.json. */
export const TQ_VERSION = (require('../../package.json') as { version: string }).version;
