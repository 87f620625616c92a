export { createClient, RunFailedError, type ClientOptions, type RunHandle, type RunInfo, type TqClient } from './client.js';
