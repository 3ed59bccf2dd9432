/**
 * A worker of the multi-process lb, for launchers that run the TypeScript sources (tests
 * and the bench give it to `LbCluster` as `exec`). The built service needs no such file:
 * main.ts runs a worker itself when node:cluster starts it as one.
 */
import 'reflect-metadata';
import { runLbWorker } from './lb-worker';

runLbWorker();
