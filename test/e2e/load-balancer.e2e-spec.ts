/**
 * The load balancer in front of real services on three hosts: one listener routes by path to
 * one service and by host to another (targets follow the tasks' dynamic host ports); steady
 * traffic sees no failed request through a rolling deployment, a scale-in and a drained host;
 * a killed task container leaves rotation within its health check settings; a weighted
 * forward splits traffic between two target groups.
 */
import {
  CreateServiceCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  type Task,
  UpdateContainerInstancesStateCommand,
  UpdateServiceCommand,
  waitUntilServicesStable,
} from '@aws-sdk/client-ecs';
import { eventually, IMAGES, startTopology, type Topology } from '@wharf/testing';
import { request as httpRequest, Agent } from 'node:http';

jest.setTimeout(900_000);

const CLUSTER = 'default';
const LISTENER_PORT = 8080;
const WAIT = { maxWaitTime: 240, minDelay: 1, maxDelay: 2 };

describe('the load balancer in front of services', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;
  let api = '';
  let lbAddress = '';

  beforeAll(async () => {
    topology = await startTopology({
      hosts: [
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-a' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-b' } },
        { env: { AGENT_ATTRIBUTES: 'ecs.availability-zone=az-c' } },
      ],
      lbListenerPorts: [LISTENER_PORT],
    });
    ({ ecs } = topology);
    api = topology.services.api.url;
    lbAddress = topology.services.lb.mapped(LISTENER_PORT);
  });

  afterAll(async () => {
    await topology?.stop();
  });

  /** A /v1 call; resolves to the JSON answer, throws with the body on a non-2xx. */
  async function v1<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${api}/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: topology!.bearer },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  const keepAlive = new Agent({ keepAlive: true, maxSockets: 16 });

  /** One GET through the listener: status and body (status 0 when the request failed). */
  function get(path: string, host = 'lb.example'): Promise<{ status: number; body: string }> {
    const [hostname, port] = lbAddress.split(':');
    return new Promise((resolve) => {
      const req = httpRequest(
        {
          hostname,
          port: Number(port),
          path,
          agent: keepAlive,
          headers: { host },
          timeout: 10_000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', () => resolve({ status: 0, body }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ status: 0, body: String(err) }));
      req.end();
    });
  }

  /**
   * Steady traffic: `workers` loops each sending GETs one after another until stopped;
   * resolves to how many were sent and every answer that was not a 2xx.
   */
  function steadyTraffic(path: string, host: string, workers = 4) {
    let running = true;
    let sent = 0;
    const failures: string[] = [];
    const loops = Array.from({ length: workers }, async () => {
      while (running) {
        const res = await get(path, host);
        sent++;
        if (res.status < 200 || res.status > 299) failures.push(`${res.status} ${res.body}`);
      }
    });
    return {
      stop: async () => {
        running = false;
        await Promise.all(loops);
        return { sent, failures };
      },
    };
  }

  async function registerWeb(name: string, version: string): Promise<string> {
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: name,
        containerDefinitions: [
          {
            name: 'web',
            image: IMAGES.workload,
            essential: true,
            memory: 32,
            cpu: 32,
            portMappings: [{ containerPort: 8000, hostPort: 0 }],
            // busybox httpd serves what the task writes: its service and version at /, /a/
            // and /split/.
            command: [
              'sh',
              '-c',
              `mkdir -p /www/a /www/split && echo "${name} ${version}" > /www/index.html && ` +
                `cp /www/index.html /www/a/ && cp /www/index.html /www/split/ && ` +
                `exec httpd -f -p 8000 -h /www`,
            ],
            stopTimeout: 2,
          },
        ],
      }),
    );
    return out.taskDefinition!.taskDefinitionArn!;
  }

  interface Resource {
    loadBalancerArn?: string;
    listenerArn?: string;
    targetGroupArn?: string;
    ruleArn?: string;
  }

  const targetGroup = (name: string) =>
    v1<Resource>('POST', '/target-groups', {
      name,
      port: 8000,
      healthCheck: {
        path: '/',
        intervalSeconds: 5,
        timeoutSeconds: 2,
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      deregistrationDelaySeconds: 3,
    });

  async function createService(name: string, taskDefinition: string, targetGroupArn: string) {
    await ecs.send(
      new CreateServiceCommand({
        cluster: CLUSTER,
        serviceName: name,
        taskDefinition,
        desiredCount: 3,
        loadBalancers: [{ targetGroupArn, containerName: 'web', containerPort: 8000 }],
        healthCheckGracePeriodSeconds: 10,
      }),
    );
  }

  const stable = (name: string) =>
    waitUntilServicesStable({ client: ecs, ...WAIT }, { cluster: CLUSTER, services: [name] });

  interface TargetHealth {
    targetHealthDescriptions: {
      target: { id: string; port: number };
      targetHealth: { state: string; reason?: string };
      taskArn?: string;
    }[];
  }
  const targetsOf = (group: string) =>
    v1<TargetHealth>('GET', `/target-groups/${encodeURIComponent(group)}/targets`);

  /** Waits until the group has exactly the service's RUNNING tasks as healthy targets. */
  async function healthyTargets(group: string, service: string): Promise<void> {
    await eventually(
      async () => {
        const { taskArns } = await ecs.send(
          new ListTasksCommand({ cluster: CLUSTER, serviceName: service }),
        );
        const { targetHealthDescriptions } = await targetsOf(group);
        const healthy = targetHealthDescriptions.filter((t) => t.targetHealth.state === 'healthy');
        const arns = new Set(healthy.map((t) => t.taskArn));
        return healthy.length === taskArns!.length && taskArns!.every((a) => arns.has(a))
          ? true
          : undefined;
      },
      `every task of ${service} healthy in its target group`,
      120_000,
      1000,
    );
  }

  let groupA = '';
  let groupB = '';
  let listener = '';

  it('routes by path to one service and by host to another', async () => {
    const lb = await v1<Resource>('POST', '/load-balancers', { name: 'front' });
    groupA = (await targetGroup('service-a')).targetGroupArn!;
    groupB = (await targetGroup('service-b')).targetGroupArn!;
    listener = (
      await v1<Resource>('POST', '/listeners', {
        loadBalancerArn: lb.loadBalancerArn,
        port: LISTENER_PORT,
        defaultActions: [
          {
            type: 'fixed-response',
            fixedResponseConfig: { statusCode: '404', messageBody: 'no route' },
          },
        ],
      })
    ).listenerArn!;
    await v1('POST', '/rules', {
      listenerArn: listener,
      priority: 10,
      conditions: [{ field: 'path-pattern', values: ['/a/*'] }],
      actions: [{ type: 'forward', targetGroupArn: groupA }],
    });
    await v1('POST', '/rules', {
      listenerArn: listener,
      priority: 20,
      conditions: [{ field: 'host-header', values: ['b.example'] }],
      actions: [{ type: 'forward', targetGroupArn: groupB }],
    });

    await createService('service-a', await registerWeb('service-a', 'v1'), groupA);
    await createService('service-b', await registerWeb('service-b', 'v1'), groupB);
    await Promise.all([stable('service-a'), stable('service-b')]);
    await Promise.all([healthyTargets(groupA, 'service-a'), healthyTargets(groupB, 'service-b')]);

    // Targets are the tasks' dynamic host ports on their hosts.
    const { targetHealthDescriptions } = await targetsOf(groupA);
    expect(targetHealthDescriptions).toHaveLength(3);
    expect(targetHealthDescriptions.every((t) => t.target.port >= 1024)).toBe(true);

    expect(await get('/a/', 'lb.example')).toEqual({ status: 200, body: 'service-a v1\n' });
    expect(await get('/', 'b.example')).toEqual({ status: 200, body: 'service-b v1\n' });
    expect(await get('/', 'B.EXAMPLE:8080')).toEqual({ status: 200, body: 'service-b v1\n' });
    expect(await get('/other', 'lb.example')).toEqual({ status: 404, body: 'no route' });
  });

  it('loses no request through a rolling deployment, a scale-in and a drained host', async () => {
    const traffic = steadyTraffic('/a/', 'lb.example');

    // 1. A new task definition rolls out.
    const v2 = await registerWeb('service-a', 'v2');
    await ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: 'service-a', taskDefinition: v2 }),
    );
    await stable('service-a');
    await healthyTargets(groupA, 'service-a');
    expect((await get('/a/')).body).toBe('service-a v2\n');

    // 2. Scale-in.
    await ecs.send(
      new UpdateServiceCommand({ cluster: CLUSTER, service: 'service-a', desiredCount: 2 }),
    );
    await stable('service-a');
    await healthyTargets(groupA, 'service-a');

    // 3. The host running a task of the service is drained.
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: 'service-a' }),
    );
    const [victim] = await topology!.describeTasks(taskArns!);
    await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: CLUSTER,
        containerInstances: [victim.containerInstanceArn!],
        status: 'DRAINING',
      }),
    );
    await eventually(
      async () => {
        const { taskArns: now } = await ecs.send(
          new ListTasksCommand({ cluster: CLUSTER, serviceName: 'service-a' }),
        );
        const tasks: Task[] = await topology!.describeTasks(now!);
        return tasks.length === 2 &&
          tasks.every(
            (t) =>
              t.containerInstanceArn !== victim.containerInstanceArn && t.lastStatus === 'RUNNING',
          )
          ? true
          : undefined;
      },
      'the service leaves the drained host',
      180_000,
      1000,
    );
    await healthyTargets(groupA, 'service-a');

    const { sent, failures } = await traffic.stop();
    process.stdout.write(
      `steady traffic through the changes: ${sent} requests, ${failures.length} failed\n`,
    );
    expect(sent).toBeGreaterThan(100);
    expect(failures).toEqual([]);
    await ecs.send(
      new UpdateContainerInstancesStateCommand({
        cluster: CLUSTER,
        containerInstances: [victim.containerInstanceArn!],
        status: 'ACTIVE',
      }),
    );
  });

  it('takes a task whose container was killed out of rotation within its health checks', async () => {
    // (The drained host moved service-b's tasks too: wait for their replacements.)
    await stable('service-b');
    await healthyTargets(groupB, 'service-b');
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: 'service-b' }),
    );
    const [task] = await topology!.describeTasks(taskArns!);
    const host = topology!.hosts.find((h) => h.containerInstanceArn === task.containerInstanceArn)!;
    // (By task: two hosts may publish on the same dynamic port.)
    const target = async () =>
      (await targetsOf(groupB)).targetHealthDescriptions.find((t) => t.taskArn === task.taskArn);
    expect((await target())?.targetHealth.state).toBe('healthy');

    const killedAt = Date.now();
    const ids = await host.docker([
      'ps',
      '-q',
      '--filter',
      `label=com.wharf.task-arn=${task.taskArn}`,
    ]);
    expect(ids.trim()).not.toBe('');
    for (const id of ids.trim().split('\n')) await host.docker(['kill', id]);
    // Out of rotation — unhealthy, or gone (the task stopped and its target deregistered) —
    // within unhealthy threshold × interval (+ a check in flight and event delivery): state
    // says so, and traffic no longer reaches it.
    let last: string[] = [];
    await eventually(
      async () => {
        const t = await target();
        if (t && t.targetHealth.state === 'healthy') return undefined;
        const answers = await Promise.all(Array.from({ length: 20 }, () => get('/', 'b.example')));
        last = answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${a.body}`);
        return last.length === 0 ? true : undefined;
      },
      'the killed task leaves rotation',
      2 * 5_000 + 2_000 + 10_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last failures: ${last.join(' | ')}`);
    });
    expect(Date.now() - killedAt).toBeLessThan(22_000);
  });

  it('replaces a task the load balancer finds unhealthy, after the grace period', async () => {
    await stable('service-b');
    await healthyTargets(groupB, 'service-b');
    const { taskArns } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: 'service-b' }),
    );
    const [task] = await topology!.describeTasks(taskArns!);
    const host = topology!.hosts.find((h) => h.containerInstanceArn === task.containerInstanceArn)!;
    // The container keeps running, but its health check path now answers 404.
    const [id] = (
      await host.docker(['ps', '-q', '--filter', `label=com.wharf.task-arn=${task.taskArn}`])
    )
      .trim()
      .split('\n');
    await host.docker(['exec', id, 'rm', '/www/index.html']);
    const stopped = await topology!.waitForTask(
      task.taskArn!,
      (t) => t.lastStatus === 'STOPPED',
      'the unhealthy task is stopped',
      90_000,
    );
    expect(stopped.stoppedReason).toBe('Task failed ELB health checks');
    await stable('service-b');
    await healthyTargets(groupB, 'service-b');
    const { taskArns: now } = await ecs.send(
      new ListTasksCommand({ cluster: CLUSTER, serviceName: 'service-b' }),
    );
    expect(now).toHaveLength(3);
    expect(now).not.toContain(task.taskArn);
  });

  it('splits traffic between weighted target groups', async () => {
    await v1('POST', '/rules', {
      listenerArn: listener,
      priority: 5,
      conditions: [{ field: 'path-pattern', values: ['/split/*'] }],
      actions: [
        {
          type: 'forward',
          forwardConfig: {
            targetGroups: [
              { targetGroupArn: groupA, weight: 3 },
              { targetGroupArn: groupB, weight: 1 },
            ],
          },
        },
      ],
    });
    await eventually(
      async () => ((await get('/split/')).status === 200 ? true : undefined),
      'the weighted rule applies',
    );
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 400; i++) {
      const res = await get('/split/');
      if (res.body.startsWith('service-a')) counts.a++;
      if (res.body.startsWith('service-b')) counts.b++;
    }
    expect(counts.a + counts.b).toBe(400);
    expect(counts.a / 400).toBeGreaterThan(0.65);
    expect(counts.a / 400).toBeLessThan(0.85);
  });
});
