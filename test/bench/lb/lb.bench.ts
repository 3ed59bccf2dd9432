/**
 * Load balancer benchmark: requests per second and latency (p50, p99) through Wharf's lb and
 * through nginx, configured equivalently, in front of the same backends on the same machine,
 * in one run at the same concurrencies, and the ratios against the issue's target: Wharf's lb
 * at ≥ 0.7× nginx's requests/s (Traefik measures about 0.66× nginx in published runs) with a
 * p99 ≤ 2× nginx's. It prints the figures and says met / not met; it asserts nothing.
 *
 *   npm run bench:lb          (node test/bench/run.js test/bench/lb/lb.bench.ts)
 *
 * What runs, all on 127.0.0.1:
 *  - backends: BENCH_BACKENDS (3) HTTP servers answering every path with a fixed small body,
 *    keep-alive on; by default one nginx process (worker_processes 1) listening on one port
 *    per backend and answering with `return 200` (the cheapest server at hand, so that the
 *    proxies are what is measured); BENCH_BACKEND_KIND=node runs one Node http server
 *    process per backend instead;
 *  - Wharf's lb: the data plane of apps/lb (DataPlane: listener server, routing, target pool,
 *    pooled keep-alive connections to targets, health checks) in a Node process of its own
 *    (./lb-process.ts), its model fed directly as apps/lb/src/data-plane.int-spec.ts does (no
 *    state or NATS): one listener forwarding to one round_robin target group of the backends,
 *    health checks on /health every BENCH_LB_HEALTH_INTERVAL_S; served by BENCH_LB_WORKERS
 *    worker processes (LB_WORKERS: the primary runs the control plane and health checks, the
 *    workers share the listener port), and, unless BENCH_LB_SINGLE=0, also in one process
 *    (LB_WORKERS=1) for comparison;
 *  - nginx as the reference: Debian's package, started here in the foreground with a config
 *    generated in a temporary folder (never the system service): worker_processes 1 (one
 *    process, like the lb's one Node process), keep-alive to clients and to the backends
 *    (`upstream { keepalive N; }`, `proxy_http_version 1.1`, `proxy_set_header Connection ""`),
 *    the same X-Forwarded-* headers as the lb adds, no access log (the lb has none); and,
 *    unless BENCH_NGINX_AUTO=0, a second nginx with `worker_processes auto` for scale;
 *  - unless BENCH_NODE_BASELINE=0, a bare Node proxy (node:http in, a keep-alive Agent per
 *    backend out, round robin, nothing else): the floor under any proxy built on node:http,
 *    which tells what Node costs from what the lb adds;
 *  - the load: wrk (Debian's package) with BENCH_WRK_THREADS threads, keep-alive connections.
 *
 * It first waits (BENCH_QUIET_WAIT_S) for the machine's other processes to go quiet, and says
 * if they did not. Each proxy is warmed up, then the proxies take turns (nginx, lb, nginx
 * auto, bare Node, nginx, lb, …) for BENCH_ROUNDS rounds of BENCH_DURATION_S at each
 * concurrency, with the CPU each used and what else the machine did meanwhile; the summary
 * gives each proxy's median over its rounds, and the ratios from the medians (and per round).
 * wrk and nginx are installed with apt-get when missing (root only; else the bench says what
 * to install). Every process the bench starts is stopped before it exits, failure or not.
 *
 * Environment (all optional):
 *   BENCH_CONCURRENCY (50,200)       wrk connections, one pass per value
 *   BENCH_DURATION_S (10)            seconds per measured run
 *   BENCH_WARMUP_S (5)               seconds of discarded load per proxy before measuring
 *   BENCH_ROUNDS (3)                 measured runs per proxy and concurrency, interleaved
 *   BENCH_WRK_THREADS (2)            wrk threads
 *   BENCH_BACKENDS (3)               number of backends
 *   BENCH_BACKEND_KIND (nginx)       nginx | node
 *   BENCH_BODY_BYTES (64)            size of the backends' response body
 *   BENCH_NGINX_AUTO (1)             0: no second nginx with worker_processes auto
 *   BENCH_NODE_BASELINE (1)          0: no bare Node proxy (node:http server + keep-alive
 *                                    Agent per backend, round robin, nothing else): what one
 *                                    Node process can do at best, to tell Node's cost from the lb's
 *   BENCH_LB_HEALTH_INTERVAL_S (5)   the lb's health check interval (ALB's minimum is 5)
 *   BENCH_LB_MAX_SOCKETS (256)       the lb's LB_TARGET_MAX_SOCKETS default; also nginx's
 *                                    `keepalive` (idle upstream connections kept per worker)
 *   BENCH_LB_IDLE_SOCKET_MS (4000)   the lb's LB_TARGET_IDLE_SOCKET_MS default; also nginx's
 *                                    upstream `keepalive_timeout`
 *   BENCH_LB_WORKERS (CPUs)          the lb's LB_WORKERS: worker processes serving the listener
 *   BENCH_LB_SINGLE (1)              0: no second lb in one process (when BENCH_LB_WORKERS > 1)
 *   BENCH_LOG_LEVEL (warn)           the lb process's log level
 *   BENCH_QUIET_WAIT_S (300)         wait up to this long, before starting, for the machine's
 *                                    other processes to use less than a quarter of a core
 *   BENCH_QUIET_RUN_WAIT_S (30)      the same before each measured run (a run is marked
 *                                    "noisy" if others used more than that during it)
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, processFigures } from '../placement/service-processes';

// ---- settings ------------------------------------------------------------------------------

function intEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

function intListEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${name} must be a comma-separated list of integers ≥ 1`);
  }
  return list;
}

const WRK_THREADS = intEnv('BENCH_WRK_THREADS', 2, 1);
const CONCURRENCIES = intListEnv('BENCH_CONCURRENCY', [50, 200]);
if (CONCURRENCIES.some((c) => c < WRK_THREADS)) {
  throw new Error('BENCH_CONCURRENCY: wrk needs at least one connection per thread');
}
const DURATION_S = intEnv('BENCH_DURATION_S', 10, 1);
const WARMUP_S = intEnv('BENCH_WARMUP_S', 5, 0);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1);
const BACKENDS = intEnv('BENCH_BACKENDS', 3, 1);
const BACKEND_KIND = process.env.BENCH_BACKEND_KIND ?? 'nginx';
if (BACKEND_KIND !== 'nginx' && BACKEND_KIND !== 'node') {
  throw new Error('BENCH_BACKEND_KIND: nginx or node');
}
const BODY_BYTES = intEnv('BENCH_BODY_BYTES', 64, 16);
const NGINX_AUTO = process.env.BENCH_NGINX_AUTO !== '0';
const NODE_BASELINE = process.env.BENCH_NODE_BASELINE !== '0';
const LB_HEALTH_INTERVAL_S = intEnv('BENCH_LB_HEALTH_INTERVAL_S', 5, 1);
const LB_MAX_SOCKETS = intEnv('BENCH_LB_MAX_SOCKETS', 256, 1);
const LB_IDLE_SOCKET_MS = intEnv('BENCH_LB_IDLE_SOCKET_MS', 4000, 100);
const LB_WORKERS = intEnv('BENCH_LB_WORKERS', cpus().length, 1);
const LB_SINGLE = process.env.BENCH_LB_SINGLE !== '0' && LB_WORKERS > 1;
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
const QUIET_WAIT_S = intEnv('BENCH_QUIET_WAIT_S', 300, 0);
const QUIET_RUN_WAIT_S = intEnv('BENCH_QUIET_RUN_WAIT_S', 30, 0);
const QUIET_CORES = 0.25;

/** The issue's target and reference point. */
const TARGET_RPS_RATIO = 0.7;
const TARGET_P99_RATIO = 2;
const TRAEFIK_RPS_RATIO = 0.66;

/** ALB's default idle timeout, which the lb process gives its load balancer; nginx the same. */
const CLIENT_IDLE_TIMEOUT_S = 60;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

const ROOT = path.resolve(__dirname, '..', '..', '..');
const RUN_JS = path.join(ROOT, 'test', 'bench', 'run.js');

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 2 : 1)} ms` : 'n/a');
const pct = (share: number) => `${Math.round(share * 100)}%`;

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Undo steps, run newest first; each failure is reported and the rest still run. */
class Cleanup {
  private steps: { what: string; fn: () => Promise<unknown> }[] = [];
  private running?: Promise<void>;
  push(what: string, fn: () => Promise<unknown>): void {
    this.steps.unshift({ what, fn });
  }
  run(): Promise<void> {
    return (this.running ??= (async () => {
      for (const { what, fn } of this.steps) {
        try {
          await fn();
        } catch (err) {
          process.stderr.write(`cleanup: ${what} failed: ${(err as Error).message}\n`);
        }
      }
      this.steps = [];
    })());
  }
}

// ---- tools ---------------------------------------------------------------------------------

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Installs wrk and nginx from Debian's packages when missing (idempotent), or says how. */
function ensureTools(): void {
  const missing = ['wrk', 'nginx'].filter((bin) => !onPath(bin));
  if (!missing.length) return;
  const how = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(`this bench needs ${missing.join(' and ')} on PATH: install with \`${how}\``);
  }
  out(`installing ${missing.join(' and ')} (${how})…`);
  // RUNLEVEL=1: the package's maintainer scripts must not start the system nginx service.
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', ...missing], { env, encoding: 'utf8' });
  let result = install();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
    result = install();
  }
  const still = missing.filter((bin) => !onPath(bin));
  if (result.status !== 0 || still.length) {
    throw new Error(
      `\`${how}\` failed (exit ${result.status}); install ${still.join(' and ')} and run again:\n` +
        `${(result.stderr ?? '').slice(-2000)}`,
    );
  }
}

function version(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n')[0].trim();
}

// ---- processes and CPU -----------------------------------------------------------------------

/** CPU seconds of the given processes (a process that is gone counts 0). */
async function cpuSecondsOf(pids: number[]): Promise<number> {
  const each = await Promise.all(
    pids.map((pid) =>
      processFigures(pid)
        .then((f) => f.cpuSeconds)
        .catch(() => 0),
    ),
  );
  return each.reduce((a, b) => a + b, 0);
}

/** CPU seconds of this process's children that have exited and been reaped (wrk's runs). */
async function reapedChildrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}

interface MachineCpu {
  /** user, nice and system time: what processes used */
  process: number;
  /** time in interrupts and softirqs (loopback networking is much of it) */
  irq: number;
  /** time the hypervisor gave to others while this machine wanted to run */
  steal: number;
  total: number;
}

/** CPU seconds of the whole machine, all cores, from /proc/stat. */
async function machineCpu(): Promise<MachineCpu> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map((v) => Number(v) / CLOCK_TICKS_PER_SECOND);
  return {
    process: user + nice + system,
    irq: irq + softirq,
    steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

async function allProcessCpu(): Promise<Map<number, { name: string; seconds: number }>> {
  const result = new Map<number, { name: string; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      result.set(Number(entry), { name, seconds });
    } catch {
      // gone meanwhile
    }
  }
  return result;
}

async function commandOf(pid: number, fallback: string): Promise<string> {
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.replace(/\0/g, ' ').trim().slice(0, 90) || fallback;
}

interface OtherLoad {
  /** CPU used by every process but this one, in cores */
  total: number;
  /** those above 5% of a core, busiest first */
  busy: string[];
}

/** What processes other than this one used over `sampleMs`. */
async function otherLoad(sampleMs: number): Promise<OtherLoad> {
  const before = await allProcessCpu();
  await sleep(sampleMs);
  const after = await allProcessCpu();
  let total = 0;
  const busy: { line: string; share: number }[] = [];
  for (const [pid, p] of after) {
    if (pid === process.pid) continue;
    const share = (p.seconds - (before.get(pid)?.seconds ?? p.seconds)) / (sampleMs / 1000);
    total += share;
    if (share > 0.05) {
      busy.push({
        line: `${pct(share)} of a core: pid ${pid} ${await commandOf(pid, p.name)}`,
        share,
      });
    }
  }
  return { total, busy: busy.sort((x, y) => y.share - x.share).map((x) => x.line) };
}

/**
 * Waits up to QUIET_WAIT_S for the other processes of the machine to use less than
 * QUIET_CORES between them (another test suite running would skew both proxies' figures).
 */
async function waitForQuiet(waitS: number, sampleMs: number, say: boolean): Promise<OtherLoad> {
  const deadline = Date.now() + waitS * 1000;
  let load = await otherLoad(sampleMs);
  if (load.total >= QUIET_CORES && waitS > 0) {
    if (say) {
      out(
        `waiting up to ${waitS} s for other processes to use < ${QUIET_CORES} core ` +
          `(now ${load.total.toFixed(2)}: ${load.busy[0] ?? '?'})…`,
      );
    }
    while (load.total >= QUIET_CORES && Date.now() < deadline) load = await otherLoad(sampleMs);
  }
  return load;
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => undefined);
  if (text !== undefined) return text.trim().split(/\s+/).filter(Boolean).map(Number);
  const kids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) kids.push(Number(entry));
  }
  return kids;
}

function waitForPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A process the bench started and must stop. */
interface Started {
  name: string;
  /** the processes whose CPU counts as this one's (nginx: the master and its workers) */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

function exitedOf(child: ChildProcess): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : once(child, 'exit');
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const exited = exitedOf(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Spawns `command` and waits until every one of `ports` accepts connections. */
async function spawnListening(
  name: string,
  command: string,
  args: string[],
  ports: number[],
  env: NodeJS.ProcessEnv = process.env,
  errorLog?: string,
): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.on('error', (err) => (stderr += `\n${err.message}`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (!exited && (await Promise.all(ports.map(waitForPort))).every(Boolean)) return child;
    if (exited || Date.now() > deadline) {
      await stopChild(child, 'SIGKILL');
      const log = errorLog ? await readFile(errorLog, 'utf8').catch(() => '') : '';
      throw new Error(
        `${name} did not open ports ${ports.join(', ')}${exited ? ' (it exited)' : ''}:\n${stderr}${log.slice(-2000)}`,
      );
    }
    await sleep(50);
  }
}

// ---- nginx -----------------------------------------------------------------------------------

/** The top of every generated nginx config: foreground, own pid file, logs and temp paths. */
function nginxMain(dir: string, workers: string, http: string): string {
  const temp = (what: string) => `${what}_temp_path ${path.join(dir, what)};`;
  return `# generated by test/bench/lb/lb.bench.ts
daemon off;
master_process on;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes ${workers};
worker_rlimit_nofile 65536;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events {
  worker_connections 16384;
}
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  keepalive_timeout ${CLIENT_IDLE_TIMEOUT_S}s;
  keepalive_requests 1000000000;
${http}
}
`;
}

async function startNginx(
  name: string,
  parent: string,
  workers: string,
  http: string,
  ports: number[],
): Promise<Started> {
  const dir = path.join(parent, name.replace(/\W+/g, '-'));
  await mkdir(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  await writeFile(conf, nginxMain(dir, workers, http));
  const child = await spawnListening(
    name,
    'nginx',
    ['-p', dir, '-c', conf, '-e', errorLog],
    ports,
    process.env,
    errorLog,
  );
  const pids = async () => [child.pid!, ...(await childrenOf(child.pid!))];
  return {
    name,
    pids,
    stop: async () => {
      const all = await pids();
      await stopChild(child); // SIGTERM: fast shutdown of the master and its workers
      // A worker left behind by a master that had to be killed.
      for (const pid of all.slice(1)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

function bodyOf(backend: number): string {
  const head = `backend-${backend} `;
  return `${head}${'x'.repeat(Math.max(0, BODY_BYTES - head.length - 1))}\n`;
}

async function startBackends(dir: string, ports: number[]): Promise<Started[]> {
  if (BACKEND_KIND === 'nginx') {
    const servers = ports
      .map(
        (port, i) => `  server {
    listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 "${bodyOf(i + 1).trimEnd()}\\n"; }
  }`,
      )
      .join('\n');
    return [await startNginx('backends', dir, '1', servers, ports)];
  }
  const code = `
    const http = require('node:http');
    const body = Buffer.from(process.env.BODY);
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
    server.keepAliveTimeout = ${CLIENT_IDLE_TIMEOUT_S * 1000};
    server.listen(Number(process.env.PORT), '127.0.0.1');
    process.on('SIGTERM', () => process.exit(0));`;
  return Promise.all(
    ports.map(async (port, i) => {
      const child = await spawnListening(
        `backend-${i + 1}`,
        process.execPath,
        ['-e', code],
        [port],
        {
          ...process.env,
          PORT: String(port),
          BODY: bodyOf(i + 1),
        },
      );
      return {
        name: `backend-${i + 1}`,
        pids: async () => [child.pid!],
        stop: () => stopChild(child),
      };
    }),
  );
}

function nginxProxyHttp(port: number, backendPorts: number[]): string {
  return `  upstream backends {
${backendPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive ${LB_MAX_SOCKETS};
    keepalive_requests 1000000000;
    keepalive_timeout ${LB_IDLE_SOCKET_MS}ms;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Port $server_port;
    }
  }`;
}

/**
 * The least a Node reverse proxy does: node:http in, a keep-alive Agent per backend out,
 * round robin, headers passed as they are. The floor under any proxy written on node:http.
 */
async function startBareNodeProxy(port: number, backendPorts: number[]): Promise<Started> {
  const code = `
    const http = require('node:http');
    const ports = process.env.TARGETS.split(',').map(Number);
    const agents = ports.map(() => new http.Agent({
      keepAlive: true, maxSockets: ${LB_MAX_SOCKETS}, maxFreeSockets: ${LB_MAX_SOCKETS}, scheduling: 'lifo',
    }));
    let next = 0;
    const server = http.createServer((req, res) => {
      const i = next++ % ports.length;
      const up = http.request(
        { host: '127.0.0.1', port: ports[i], method: req.method, path: req.url, headers: req.headers, agent: agents[i] },
        (ures) => { res.writeHead(ures.statusCode, ures.headers); ures.pipe(res); },
      );
      up.on('error', () => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
      req.pipe(up);
    });
    server.keepAliveTimeout = ${CLIENT_IDLE_TIMEOUT_S * 1000};
    server.listen(Number(process.env.PORT), '127.0.0.1');
    process.on('SIGTERM', () => process.exit(0));`;
  const child = await spawnListening('bare Node proxy', process.execPath, ['-e', code], [port], {
    ...process.env,
    PORT: String(port),
    TARGETS: backendPorts.join(','),
  });
  return { name: 'bare Node proxy', pids: async () => [child.pid!], stop: () => stopChild(child) };
}

// ---- Wharf's lb ------------------------------------------------------------------------------

async function startLbProcess(
  port: number,
  backendPorts: number[],
  workers: number,
): Promise<Started> {
  const child = spawn(process.execPath, [RUN_JS, path.join(__dirname, 'lb-process.ts')], {
    env: {
      ...process.env,
      BENCH_LB_PORT: String(port),
      BENCH_LB_TARGETS: backendPorts.join(','),
      BENCH_LB_HEALTH_INTERVAL_S: String(LB_HEALTH_INTERVAL_S),
      BENCH_LB_MAX_SOCKETS: String(LB_MAX_SOCKETS),
      BENCH_LB_IDLE_SOCKET_MS: String(LB_IDLE_SOCKET_MS),
      BENCH_LB_WORKERS: String(workers),
      BENCH_LOG_LEVEL: LOG_LEVEL,
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    await stopChild(child);
    if (child.connected) child.disconnect();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the lb was not ready within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      child.on('message', (m: { ready?: boolean }) => {
        if (m?.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the lb process exited (${code ?? signal}) before it was ready`));
      });
    });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}:\n${output}`);
  }
  // Logs after start-up (warnings, e.g. a target going unhealthy) go on to stderr.
  child.stdout!.off('data', keep);
  child.stderr!.off('data', keep);
  child.stdout!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  // The primary and its worker processes: all of the lb's CPU.
  return {
    name: `Wharf lb (${workers})`,
    pids: async () => [child.pid!, ...(await childrenOf(child.pid!))],
    stop,
  };
}

// ---- wrk -------------------------------------------------------------------------------------

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  socketErrors: number;
  non2xx: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return n * (scale[unit] ?? NaN);
}

function parseWrk(text: string): WrkResult {
  const latency = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (!rps || !requests) throw new Error(`cannot read wrk's output:\n${text}`);
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    requests: Number(requests[1]),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/** The wrk process running now, stopped by the cleanup if the bench is interrupted. */
let activeWrk: ChildProcess | undefined;

async function runWrk(port: number, connections: number, seconds: number): Promise<WrkResult> {
  const child = spawn(
    'wrk',
    [
      '-t',
      String(WRK_THREADS),
      '-c',
      String(connections),
      '-d',
      `${seconds}s`,
      '--timeout',
      '5s',
      '--latency',
      `http://127.0.0.1:${port}/`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  activeWrk = child;
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  activeWrk = undefined;
  if (code !== 0) throw new Error(`wrk exited with ${code}:\n${text}`);
  return parseWrk(text);
}

// ---- measuring -------------------------------------------------------------------------------

interface Proxy {
  label: string;
  port: number;
  started: Started;
}

interface Run extends WrkResult {
  proxy: string;
  connections: number;
  round: number;
  /** shares of one core over the run */
  proxyCpu: number;
  backendCpu: number;
  wrkCpu: number;
  /** processes other than the proxy, the backends, wrk and this one (short-lived ones too) */
  otherCpu: number;
  /** the busiest of those that lived through the run, if it used more than 5% of a core */
  busiestOther?: string;
  irqCpu: number;
  stealCpu: number;
  /** everything but idle, as a share of the whole machine */
  machineBusy: number;
}

async function measure(
  proxy: Proxy,
  backends: Started[],
  connections: number,
  round: number,
): Promise<Run> {
  await waitForQuiet(QUIET_RUN_WAIT_S, 1000, false);
  const proxyPids = await proxy.started.pids();
  const backendPids = (await Promise.all(backends.map((b) => b.pids()))).flat();
  const ours = new Set([process.pid, ...proxyPids, ...backendPids]);
  const procs0 = await allProcessCpu();
  const [proxy0, backend0, wrk0, machine0] = await Promise.all([
    cpuSecondsOf(proxyPids),
    cpuSecondsOf(backendPids),
    reapedChildrenCpuSeconds(),
    machineCpu(),
  ]);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runWrk(proxy.port, connections, DURATION_S);
  const wall = (performance.now() - t0) / 1000;
  const [proxy1, backend1, wrk1, machine1] = await Promise.all([
    cpuSecondsOf(proxyPids),
    cpuSecondsOf(backendPids),
    reapedChildrenCpuSeconds(),
    machineCpu(),
  ]);
  const procs1 = await allProcessCpu();
  let busiest: { pid: number; name: string; seconds: number } | undefined;
  for (const [pid, p] of procs1) {
    const before = procs0.get(pid);
    if (ours.has(pid) || !before) continue;
    const used = p.seconds - before.seconds;
    if (!busiest || used > busiest.seconds) busiest = { pid, name: p.name, seconds: used };
  }
  const proxyS = proxy1 - proxy0;
  const backendS = backend1 - backend0;
  const wrkS = wrk1 - wrk0;
  const own = process.cpuUsage(own0);
  // The machine's process time less ours: short-lived processes (docker execs…) count too.
  const otherS =
    machine1.process - machine0.process - proxyS - backendS - wrkS - (own.user + own.system) / 1e6;
  const share = (seconds: number) => seconds / wall;
  return {
    ...result,
    proxy: proxy.label,
    connections,
    round,
    proxyCpu: share(proxyS),
    backendCpu: share(backendS),
    wrkCpu: share(wrkS),
    otherCpu: share(Math.max(0, otherS)),
    busiestOther:
      busiest && share(busiest.seconds) > 0.05
        ? `busiest: ${await commandOf(busiest.pid, busiest.name)} ${pct(share(busiest.seconds))}`
        : undefined,
    irqCpu: share(machine1.irq - machine0.irq),
    stealCpu: share(machine1.steal - machine0.steal),
    machineBusy:
      (machine1.process - machine0.process + machine1.irq - machine0.irq) /
      (machine1.total - machine0.total),
  };
}

function printRun(r: Run): void {
  const errors = r.socketErrors + r.non2xx;
  out(
    `  c=${String(r.connections).padEnd(4)} round ${r.round}  ${r.proxy.padEnd(22)} ` +
      `${fmt(r.requestsPerSecond).padStart(8)} req/s  p50 ${ms(r.p50Ms).padStart(8)}  ` +
      `p99 ${ms(r.p99Ms).padStart(8)}  ${errors ? `ERRORS ${r.socketErrors} socket, ${r.non2xx} non-2xx  ` : ''}` +
      `CPU: proxy ${pct(r.proxyCpu)}, backends ${pct(r.backendCpu)}, wrk ${pct(r.wrkCpu)}, ` +
      `other processes ${pct(r.otherCpu)}${r.busiestOther ? ` (${r.busiestOther})` : ''}, ` +
      `irq ${pct(r.irqCpu)}, steal ${pct(r.stealCpu)}; machine ${pct(r.machineBusy)} busy` +
      (r.otherCpu >= QUIET_CORES ? '  [noisy]' : ''),
  );
}

/** Sends a few requests through a proxy: all must be 200, and every backend must answer. */
async function checkSpread(proxy: Proxy): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < BACKENDS * 4; i++) {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/check`);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${proxy.label} answered ${res.status}: ${body}`);
    seen.add(body.split(' ')[0]);
  }
  if (seen.size !== BACKENDS) {
    throw new Error(`${proxy.label} reached ${[...seen].join(', ')}, not all ${BACKENDS} backends`);
  }
}

// ---- summary ---------------------------------------------------------------------------------

interface Summary {
  proxy: string;
  rps: number;
  p50: number;
  p99: number;
  proxyCpu: number;
  otherCpu: number;
  noisy: number;
  errors: number;
}

function summarise(runs: Run[]): Summary {
  return {
    proxy: runs[0].proxy,
    rps: median(runs.map((r) => r.requestsPerSecond)),
    p50: median(runs.map((r) => r.p50Ms)),
    p99: median(runs.map((r) => r.p99Ms)),
    proxyCpu: median(runs.map((r) => r.proxyCpu)),
    otherCpu: median(runs.map((r) => r.otherCpu)),
    noisy: runs.filter((r) => r.otherCpu >= QUIET_CORES).length,
    errors: runs.reduce((a, r) => a + r.socketErrors + r.non2xx, 0),
  };
}

function printSummary(proxies: Proxy[], runs: Run[]): void {
  const [nginx1, lb] = proxies;
  out();
  out(
    `summary: median of ${ROUNDS} run(s) of ${DURATION_S} s per proxy and concurrency, wrk -t${WRK_THREADS}`,
  );
  out(
    `  ${'proxy'.padEnd(24)} ${'conns'.padStart(5)} ${'req/s'.padStart(9)} ${'p50'.padStart(9)} ` +
      `${'p99'.padStart(9)} ${'proxy CPU'.padStart(10)} ${'req/CPU-s'.padStart(10)} ${'errors'.padStart(7)} ${'others CPU'.padStart(10)} ${'noisy runs'.padStart(10)}`,
  );
  const verdicts: string[] = [];
  for (const c of CONCURRENCIES) {
    const at = runs.filter((r) => r.connections === c);
    const sums = proxies.map((p) => summarise(at.filter((r) => r.proxy === p.label)));
    for (const s of sums) {
      out(
        `  ${s.proxy.padEnd(24)} ${String(c).padStart(5)} ${fmt(s.rps).padStart(9)} ${ms(s.p50).padStart(9)} ` +
          `${ms(s.p99).padStart(9)} ${pct(s.proxyCpu).padStart(10)} ${fmt(s.rps / s.proxyCpu).padStart(10)} ` +
          `${String(s.errors).padStart(7)} ${pct(s.otherCpu).padStart(10)} ${`${s.noisy}/${ROUNDS}`.padStart(10)}`,
      );
    }
    const n = sums[0];
    const w = sums[1];
    const rpsRatio = w.rps / n.rps;
    const p99Ratio = w.p99 / n.p99;
    const perRound = (f: (wr: Run, nr: Run) => number) =>
      Array.from({ length: ROUNDS }, (_, i) => {
        const wr = at.find((r) => r.proxy === lb.label && r.round === i + 1);
        const nr = at.find((r) => r.proxy === nginx1.label && r.round === i + 1);
        return wr && nr ? f(wr, nr).toFixed(2) : 'n/a';
      }).join(', ');
    const rpsMet = rpsRatio >= TARGET_RPS_RATIO;
    const p99Met = p99Ratio <= TARGET_P99_RATIO;
    out(
      `  c=${c}: Wharf/nginx req/s ${rpsRatio.toFixed(2)}× (per round ${perRound((a, b) => a.requestsPerSecond / b.requestsPerSecond)}) ` +
        `— target ≥ ${TARGET_RPS_RATIO}×: ${rpsMet ? 'met' : 'NOT met'}`,
    );
    out(
      `  c=${c}: Wharf/nginx p99   ${p99Ratio.toFixed(2)}× (per round ${perRound((a, b) => a.p99Ms / b.p99Ms)}) ` +
        `— target ≤ ${TARGET_P99_RATIO}×: ${p99Met ? 'met' : 'NOT met'}`,
    );
    out(
      `  c=${c}: Wharf/nginx req per proxy CPU-second ${(w.rps / w.proxyCpu / (n.rps / n.proxyCpu)).toFixed(2)}×`,
    );
    for (const o of sums.slice(2)) {
      out(
        `  c=${c}: Wharf/${o.proxy}: req/s ${(w.rps / o.rps).toFixed(2)}×, p99 ${(w.p99 / o.p99).toFixed(2)}× (for scale)`,
      );
    }
    verdicts.push(`c=${c}: ${rpsMet && p99Met ? 'met' : 'NOT met'}`);
    out();
  }
  out('  reference (requests/s relative to nginx):');
  out(`    ${'Traefik (published runs)'.padEnd(28)} about ${TRAEFIK_RPS_RATIO}×`);
  out(
    `    ${'target for Wharf'.padEnd(28)} ≥ ${TARGET_RPS_RATIO}× with p99 ≤ ${TARGET_P99_RATIO}× nginx's (1 worker) — ${verdicts.join(', ')}`,
  );
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping what the bench started…\n`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  cleanup.push('wrk', async () => {
    if (activeWrk) await stopChild(activeWrk, 'SIGKILL');
  });

  try {
    ensureTools();
    const dir = await mkdtemp(path.join(tmpdir(), 'wharf-lb-bench-'));
    cleanup.push(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));

    const cores = cpus();
    const autoWorkers = cores.length;
    out('lb bench: requests/s and latency through Wharf’s lb and through nginx');
    out(
      `machine: ${cores.length} cores (${cores[0]?.model.trim() ?? '?'}), Linux ${release()}; ` +
        `node ${process.version}; ${version('nginx', ['-v'])}; ${version('wrk', ['-v'])}`,
    );
    out(
      `load average before: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (1, 5, 15 min)`,
    );
    const quiet = await waitForQuiet(QUIET_WAIT_S, 2000, true);
    out(
      `other processes before the runs (2 s sample): ${quiet.total.toFixed(2)} core in all` +
        (quiet.total >= QUIET_CORES ? ` — NOT quiet, figures below are skewed by them` : '') +
        (quiet.busy.length ? `\n${quiet.busy.map((b) => `  ${b}`).join('\n')}` : ''),
    );

    const backendPorts = await Promise.all(Array.from({ length: BACKENDS }, () => freePort()));
    const backends = await startBackends(dir, backendPorts);
    for (const b of backends) cleanup.push(b.name, () => b.stop());
    out(
      BACKEND_KIND === 'nginx'
        ? `backends: ${BACKENDS} on ports ${backendPorts.join(', ')}, served by one nginx process ` +
            `(worker_processes 1, \`return 200\`, ${BODY_BYTES}-byte body, keep-alive)`
        : `backends: ${BACKENDS} Node http servers, one process each, on ports ${backendPorts.join(', ')} ` +
            `(${BODY_BYTES}-byte body, keep-alive)`,
    );

    const proxies: Proxy[] = [];
    const nginxPort = await freePort();
    const nginx1 = await startNginx(
      'nginx (1 worker)',
      dir,
      '1',
      nginxProxyHttp(nginxPort, backendPorts),
      [nginxPort],
    );
    cleanup.push(nginx1.name, () => nginx1.stop());
    proxies.push({ label: 'nginx (1 worker)', port: nginxPort, started: nginx1 });

    const lbPort = await freePort();
    const lb = await startLbProcess(lbPort, backendPorts, LB_WORKERS);
    cleanup.push(lb.name, () => lb.stop());
    const lbLabel = LB_WORKERS > 1 ? `Wharf lb (${LB_WORKERS} workers)` : 'Wharf lb (1 process)';
    proxies.push({ label: lbLabel, port: lbPort, started: lb });

    if (LB_SINGLE) {
      const singlePort = await freePort();
      const single = await startLbProcess(singlePort, backendPorts, 1);
      cleanup.push(single.name, () => single.stop());
      proxies.push({ label: 'Wharf lb (1 process)', port: singlePort, started: single });
    }

    if (NGINX_AUTO) {
      const autoPort = await freePort();
      const label = `nginx (auto: ${autoWorkers} workers)`;
      const nginxAuto = await startNginx(
        label,
        dir,
        'auto',
        nginxProxyHttp(autoPort, backendPorts),
        [autoPort],
      );
      cleanup.push(nginxAuto.name, () => nginxAuto.stop());
      proxies.push({ label, port: autoPort, started: nginxAuto });
    }

    if (NODE_BASELINE) {
      const port = await freePort();
      const bare = await startBareNodeProxy(port, backendPorts);
      cleanup.push(bare.name, () => bare.stop());
      proxies.push({ label: 'bare Node proxy', port, started: bare });
    }

    out(
      `nginx proxy: worker_processes 1${NGINX_AUTO ? ` (and a second one with auto = ${autoWorkers})` : ''}; ` +
        `round robin over the backends; upstream keepalive ${LB_MAX_SOCKETS}, keepalive_timeout ` +
        `${LB_IDLE_SOCKET_MS} ms; proxy_http_version 1.1, Connection ""; X-Forwarded-For/-Proto/-Port; ` +
        `client keepalive_timeout ${CLIENT_IDLE_TIMEOUT_S} s; no access log; passive health only ` +
        `(open-source nginx has no active checks)`,
    );
    out(
      `Wharf lb: ${LB_WORKERS > 1 ? `${LB_WORKERS} worker processes sharing the port and a primary (control plane, health checks; LB_WORKERS=${LB_WORKERS})${LB_SINGLE ? ', and again in one Node process (LB_WORKERS=1)' : ''}` : 'one Node process'}, apps/lb DataPlane with its model fed directly (no state); ` +
        `listener → target group (round_robin) of the ${BACKENDS} backends; health checks on ` +
        `/health every ${LB_HEALTH_INTERVAL_S} s (all healthy before the runs); ` +
        `${LB_MAX_SOCKETS} sockets per target at most, idle ${LB_IDLE_SOCKET_MS} ms; ` +
        `idle timeout ${CLIENT_IDLE_TIMEOUT_S} s`,
    );
    if (NODE_BASELINE) {
      out(
        'bare Node proxy: one Node process, node:http server and a keep-alive Agent per backend, ' +
          'round robin, no routing, health checks, metrics or header rewriting: the floor for node:http ' +
          "(the lb sends requests without a body through its own HTTP/1.1 client, not node:http's)",
      );
    }
    out(
      `load: wrk -t${WRK_THREADS} --latency, keep-alive; connections ${CONCURRENCIES.join(', ')}; ` +
        `${WARMUP_S} s warm-up per proxy, then ${ROUNDS} round(s) of ${DURATION_S} s per proxy, ` +
        `taking turns: ${proxies.map((p) => p.label).join(' → ')}`,
    );
    out(
      '(CPU: shares of one core over each run, from /proc; "irq" is kernel interrupt and softirq ' +
        'time, mostly loopback networking, "steal" time the hypervisor gave elsewhere)',
    );

    for (const p of proxies) await checkSpread(p);
    out(`every proxy answered 200 from all ${BACKENDS} backends`);

    if (WARMUP_S > 0) {
      for (const p of proxies) {
        await runWrk(p.port, Math.max(...CONCURRENCIES), WARMUP_S);
      }
    }

    const runs: Run[] = [];
    for (const c of CONCURRENCIES) {
      out();
      out(`${c} connections:`);
      for (let round = 1; round <= ROUNDS; round++) {
        for (const p of proxies) {
          const r = await measure(p, backends, c, round);
          runs.push(r);
          printRun(r);
        }
      }
    }
    printSummary(proxies, runs);
    out();
    out(
      `load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (the proxies, backends and wrk themselves load the machine)`,
    );
  } finally {
    await cleanup.run();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`lb bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
