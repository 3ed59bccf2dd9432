/**
 * Wharf's services as separate Node processes for the placement bench, the way they run in
 * production (one process per service, each with its own event loop, sharing the machine's
 * cores with Postgres, NATS and the bench). Each runs its `main.ts` through test/bench/run.js,
 * so no build is needed, and is ready when its /readyz answers 200.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN_JS = path.join(ROOT, 'test', 'bench', 'run.js');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

export type ServiceName = 'state' | 'scheduler' | 'api';

export interface ServiceProcess {
  name: ServiceName;
  pid: number;
  stop(): Promise<void>;
}

export interface ProcessFigures {
  cpuSeconds: number;
  /** Of cpuSeconds, the time in the kernel (system calls: sockets, mostly). */
  kernelSeconds: number;
  /** VmHWM: the largest resident set the process has had. */
  peakRssBytes: number;
}

/** A free TCP port on loopback (closed again at once; the service binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts `apps/<name>/src/main.ts` with `env` and waits until `readyUrl` answers 200. */
export async function spawnService(
  name: ServiceName,
  env: Record<string, string>,
  readyUrl: string,
): Promise<ServiceProcess> {
  // BENCH_PROFILE_DIR: each service writes a V8 CPU profile there when it stops.
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const profile = profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const child = spawn(
    process.execPath,
    [...profile, RUN_JS, path.join(ROOT, 'apps', name, 'src', 'main.ts')],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = once(child, 'exit');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited before it was ready:\n${stderr}`);
    }
    const ok = await fetch(readyUrl)
      .then((res) => res.ok)
      .catch(() => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(
        `${name} was not ready at ${readyUrl} within ${READY_TIMEOUT_MS} ms:\n${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name, pid: child.pid!, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** CPU seconds so far and peak resident memory of a live process, from /proc. */
export async function processFigures(pid: number): Promise<ProcessFigures> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const hwmKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return {
    cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND,
    kernelSeconds: stime / CLOCK_TICKS_PER_SECOND,
    peakRssBytes: hwmKb * 1024,
  };
}
