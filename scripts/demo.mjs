#!/usr/bin/env node
/* eslint-disable no-console -- a command-line script: printing is its job */
// Drives a running Wharf through its ECS API the way the AWS CLI does (JSON 1.1: `POST /`,
// `X-Amz-Target`, SigV4-signed), with nothing but Node.js:
//
//   node scripts/demo.mjs          registers a task definition for wharf/busybox:dev (a tiny web
//                                  server), runs it, waits for RUNNING, shows it, fetches its
//                                  page through the published port, then stops it
//   node scripts/demo.mjs --keep   the same, but leaves the task running
//   node scripts/demo.mjs wait     waits until the api is ready and an agent has registered
//                                  (used by scripts/up.sh)
//   node scripts/demo.mjs instances   prints the cluster's container instance ARNs, one a line
//                                  (used by scripts/up.sh and scripts/down.sh)
//
// Environment: WHARF_ENDPOINT (http://127.0.0.1:4700), WHARF_CLUSTER (default),
// WHARF_WORKLOAD_IMAGE (wharf/busybox:dev), WHARF_WAIT_SECONDS (180), AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY (a key Wharf issued: scripts/up.sh writes one to .wharf/credentials.env),
// AWS_REGION (us-east-1).
import { createHash, createHmac } from 'node:crypto';

const endpoint = (process.env.WHARF_ENDPOINT ?? 'http://127.0.0.1:4700').replace(/\/$/, '');
const cluster = process.env.WHARF_CLUSTER ?? 'default';
const image = process.env.WHARF_WORKLOAD_IMAGE ?? 'wharf/busybox:dev';
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
const accessKey = process.env.AWS_ACCESS_KEY_ID ?? 'wharf';
const secretKey = process.env.AWS_SECRET_ACCESS_KEY ?? 'wharf';
const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113';
const AMZ_JSON = 'application/x-amz-json-1.1';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * fetch with a deadline. Node 20's fetch can leave its promise pending forever when a port
 * forwarded by docker-proxy accepts the connection while nothing listens behind it yet (a
 * container starting); with no other handle alive the process would then exit silently.
 */
const request = (url, init = {}) => fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** SigV4 headers for a JSON 1.1 call, as the AWS CLI would send them. */
function signedHeaders(target, body) {
  const url = new URL(endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers = { 'content-type': AMZ_JSON, host: url.host, 'x-amz-date': amzDate, 'x-amz-target': target };
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    url.pathname && url.pathname !== '' ? url.pathname : '/',
    '',
    names.map((n) => `${n}:${headers[n]}\n`).join(''),
    names.join(';'),
    sha256(body),
  ].join('\n');
  const scope = `${day}/${region}/ecs/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${secretKey}`, day);
  for (const part of [region, 'ecs', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...rest } = headers; // fetch sets Host itself (to the same value)
  return {
    ...rest,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

/** Calls one ECS operation; throws `Error(<__type>: <message>)` on an ECS error. */
async function ecs(operation, input = {}) {
  const body = JSON.stringify(input);
  const target = `${TARGET_PREFIX}.${operation}`;
  const res = await request(`${endpoint}/`, { method: 'POST', headers: signedHeaders(target, body), body });
  const text = await res.text();
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new Error(`${operation}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const type = String(json.__type ?? `HTTP ${res.status}`).split('#').pop();
    throw new Error(`${operation}: ${type}: ${json.message ?? json.Message ?? text}`);
  }
  return json;
}

/** Waits for /readyz and for at least one registered, connected container instance. */
async function waitReady() {
  const deadline = Date.now() + Number(process.env.WHARF_WAIT_SECONDS ?? 180) * 1000;
  let last = 'the api does not answer yet';
  let phase = 'ready';
  while (Date.now() < deadline) {
    try {
      if (phase === 'ready') {
        const res = await request(`${endpoint}/readyz`);
        if (res.status === 200) phase = 'agent';
        else last = `/readyz answers ${res.status}: ${(await res.text()).slice(0, 200)}`;
      }
      if (phase === 'agent') {
        const { containerInstanceArns = [] } = await ecs('ListContainerInstances', { cluster });
        if (containerInstanceArns.length > 0) {
          const { containerInstances = [] } = await ecs('DescribeContainerInstances', {
            cluster,
            containerInstances: containerInstanceArns,
          });
          const connected = containerInstances.filter((c) => c.agentConnected !== false && c.status === 'ACTIVE');
          if (connected.length > 0) {
            console.log(`ready: ${connected.length} container instance(s) in cluster ${cluster}`);
            return;
          }
          last = 'a container instance is registered but not ACTIVE and connected yet';
        } else {
          last = `no container instance registered in cluster ${cluster} yet`;
        }
      }
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(1000);
  }
  console.error(`timed out waiting for Wharf at ${endpoint}: ${last}`);
  process.exit(1);
}

async function demo(keep) {
  console.log(`Wharf at ${endpoint}, cluster ${cluster}\n`);

  const { taskDefinition } = await ecs('RegisterTaskDefinition', {
    family: 'wharf-demo',
    containerDefinitions: [
      {
        name: 'web',
        image,
        essential: true,
        memory: 32,
        cpu: 64,
        // busybox's httpd as PID 1 would ignore SIGTERM; the shell stops at once when asked to.
        command: [
          'sh',
          '-c',
          'echo "hello from a Wharf task" > /index.html; trap "exit 0" TERM; httpd -f -p 8000 -h / & wait',
        ],
        portMappings: [{ containerPort: 8000, protocol: 'tcp' }],
      },
    ],
  });
  console.log(`registered task definition ${taskDefinition.taskDefinitionArn}`);

  const run = await ecs('RunTask', { cluster, taskDefinition: 'wharf-demo', count: 1 });
  if (!run.tasks?.length) {
    throw new Error(`RunTask placed nothing: ${JSON.stringify(run.failures ?? [])}`);
  }
  const taskArn = run.tasks[0].taskArn;
  console.log(`started task ${taskArn} (lastStatus ${run.tasks[0].lastStatus})`);

  let task;
  const deadline = Date.now() + 60_000;
  let seen = '';
  for (;;) {
    const { tasks = [], failures = [] } = await ecs('DescribeTasks', { cluster, tasks: [taskArn] });
    task = tasks[0];
    if (!task) throw new Error(`DescribeTasks: ${JSON.stringify(failures)}`);
    if (task.lastStatus !== seen) {
      seen = task.lastStatus;
      console.log(`  lastStatus ${task.lastStatus}`);
    }
    if (task.lastStatus === 'RUNNING') break;
    if (task.lastStatus === 'STOPPED') {
      throw new Error(`the task stopped: ${task.stoppedReason ?? ''} ${JSON.stringify(task.containers ?? [])}`);
    }
    if (Date.now() > deadline) throw new Error(`the task is still ${task.lastStatus} after 60 s`);
    await sleep(500);
  }

  const container = task.containers?.[0] ?? {};
  const binding = container.networkBindings?.[0];
  console.log('\nDescribeTasks says:');
  console.log(
    JSON.stringify(
      {
        taskArn: task.taskArn,
        lastStatus: task.lastStatus,
        desiredStatus: task.desiredStatus,
        containerInstanceArn: task.containerInstanceArn,
        containers: (task.containers ?? []).map((c) => ({
          name: c.name,
          lastStatus: c.lastStatus,
          runtimeId: c.runtimeId,
          networkBindings: c.networkBindings,
        })),
      },
      null,
      2,
    ),
  );

  if (binding?.hostPort) {
    const hosts = [binding.bindIP, process.env.WHARF_HOST_ADDRESS, '127.0.0.1'].filter(
      (h) => h && h !== '0.0.0.0' && h !== '::',
    );
    let page;
    for (const host of [...new Set(hosts)]) {
      for (let i = 0; i < 10 && page === undefined; i++) {
        try {
          const res = await request(`http://${host}:${binding.hostPort}/index.html`);
          page = `http://${host}:${binding.hostPort}/ → ${(await res.text()).trim()}`;
        } catch {
          await sleep(300);
        }
      }
      if (page) break;
    }
    console.log(`\n${page ?? `(the published port ${binding.hostPort} did not answer from here)`}`);
  }

  if (keep) {
    console.log(`\nleft running; stop it with StopTask (cluster ${cluster}, task ${taskArn})`);
    return;
  }
  await ecs('StopTask', { cluster, task: taskArn, reason: 'demo finished' });
  const stopDeadline = Date.now() + 60_000;
  for (;;) {
    const { tasks = [] } = await ecs('DescribeTasks', { cluster, tasks: [taskArn] });
    if (tasks[0]?.lastStatus === 'STOPPED') {
      console.log(`\nstopped the task (stopCode ${tasks[0].stopCode ?? '-'}, reason "${tasks[0].stoppedReason ?? ''}")`);
      break;
    }
    if (Date.now() > stopDeadline) {
      console.log(`\nasked the task to stop; it is still ${tasks[0]?.lastStatus}`);
      break;
    }
    await sleep(500);
  }
}

async function listInstances() {
  for (const status of ['ACTIVE', 'DRAINING']) {
    let nextToken;
    do {
      const page = await ecs('ListContainerInstances', { cluster, status, ...(nextToken ? { nextToken } : {}) });
      for (const arn of page.containerInstanceArns ?? []) console.log(arn);
      nextToken = page.nextToken;
    } while (nextToken);
  }
}

const args = process.argv.slice(2);
const keepAlive = setInterval(() => {}, 1000); // see `request`: never exit with work pending
const main =
  args[0] === 'wait' ? waitReady() : args[0] === 'instances' ? listInstances() : demo(args.includes('--keep'));
main
  .catch((err) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => clearInterval(keepAlive));
