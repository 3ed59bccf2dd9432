import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { startApi } from './api';
import { apiConfigSchema } from './config';

runService('api', (logger) => startApi(loadConfig(apiConfigSchema), logger));
