import 'reflect-metadata';
import cluster from 'node:cluster';
import { loadConfig } from '@wharf/config';
import { runService } from '@wharf/observability';
import { lbConfigSchema } from './config';
import { startLb } from './lb';
import { runLbWorker } from './lb-worker';

// With LB_WORKERS > 1 this file is also each worker's entry point (node:cluster forks it).
if (cluster.isWorker) runLbWorker();
else runService('lb', (logger) => startLb(loadConfig(lbConfigSchema), logger));
