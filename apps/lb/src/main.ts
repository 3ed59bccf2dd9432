import 'reflect-metadata';
import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { lbConfigSchema } from './config';
import { startLb } from './lb';

runService('lb', (logger) => startLb(loadConfig(lbConfigSchema), logger));
