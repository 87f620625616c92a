export { createClient, RunFailedError, type ClientOptions, type RunHandle, type TqClient } from './client.js';
