import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { stateConfigSchema } from './config';
import { startState } from './state';

runService('state', (logger) => startState(loadConfig(stateConfigSchema), logger));
