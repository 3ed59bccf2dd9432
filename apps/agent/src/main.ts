import 'reflect-metadata';
import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { startAgent } from './agent';
import { agentConfigSchema } from './config';

runService('agent', (logger) => startAgent(loadConfig(agentConfigSchema), logger));
