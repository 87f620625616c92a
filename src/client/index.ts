export {
  createClient,
  RunFailedError,
  type ClientOptions,
  type EnqueuedFile,
  type FileInput,
  type RunHandle,
  type TqClient,
} from './client.js';
