import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { schedulerConfigSchema } from './config';
import { startScheduler } from './scheduler';

runService('scheduler', (logger) => startScheduler(loadConfig(schedulerConfigSchema), logger));
