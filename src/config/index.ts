export { loadConfig, configFromObject, DEFAULT_CONFIG_FILE } from './load.js';
export {
  resolveSettings,
  configPath,
  DEFAULT_REDIS_URL,
  DEFAULT_DB_FILE,
  DEFAULT_PREFIX,
  defaultDbFile,
  type GlobalFlags,
} from './settings.js';
export type { ResolvedConfig, ResolvedTask, Settings } from './resolved.js';
