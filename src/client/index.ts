export {
  createClient,
  RunFailedError,
  type ClientOptions,
  type EnqueuedFile,
  type FileInput,
  type RunHandle,
  type RunInfo,
  type TqClient,
} from './client.js';
