/**
 * Many RunTask calls at once through two scheduler replicas (the api sends them in turn):
 * the replicas plan on snapshots that go stale under each other, state rejects the part of a
 * plan that no longer fits and the scheduler plans it again. Whatever the interleaving, no
 * container instance is overcommitted and no static host port is held twice.
 */
import {
  DescribeContainerInstancesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type ContainerInstance,
  type Failure,
  type RunTaskCommandOutput,
  type Task,
} from '@aws-sdk/client-ecs';
import {
  eventually,
  IMAGES,
  startTopology,
  summariseTask,
  type StartedService,
  type Topology,
} from '@wharf/testing';
import { getContainerRuntimeClient } from 'testcontainers';

jest.setTimeout(600_000);

const CLUSTER = 'default';
/** The static-port task: small, so that only its host port limits it. */
const PORT_TASK = { family: 'e2e-race-port', cpu: 64, memory: 64, hostPort: 8080 };
/** The resource-only task: memory limits it (each host fits a few), never CPU. */
const MEMORY_TASK = { family: 'e2e-race-memory', cpu: 64, memory: 256 };
const PORT_CALLS = 20;
/** Counts of the memory race's calls: 16 calls of 2 or 3 tasks, 40 in all. */
const MEMORY_COUNTS = Array.from({ length: 16 }, (_, i) => 2 + (i % 2));

const COMMAND = ['sh', '-c', "trap 'exit 143' TERM; while true; do sleep 1; done"];

describe('concurrent RunTask across two scheduler replicas', () => {
  let topology: Topology | undefined;
  let ecs: ECSClient;
  /** Every task placed here, stopped at the end. */
  const placed: string[] = [];

  beforeAll(async () => {
    topology = await startTopology({ schedulers: 2, hosts: 2 });
    // No SDK retries: each RunTask is one call, so the replicas' counts add up.
    ecs = new ECSClient({
      endpoint: topology.services.api.url,
      region: 'us-east-1',
      credentials: topology.credentials,
      maxAttempts: 1,
    });
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: PORT_TASK.family,
        containerDefinitions: [
          {
            name: 'web',
            image: IMAGES.workload,
            essential: true,
            cpu: PORT_TASK.cpu,
            memory: PORT_TASK.memory,
            command: COMMAND,
            portMappings: [{ containerPort: 8080, hostPort: PORT_TASK.hostPort, protocol: 'tcp' }],
            stopTimeout: 5,
          },
        ],
      }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: MEMORY_TASK.family,
        containerDefinitions: [
          {
            name: 'worker',
            image: IMAGES.workload,
            essential: true,
            cpu: MEMORY_TASK.cpu,
            memory: MEMORY_TASK.memory,
            command: COMMAND,
            stopTimeout: 5,
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    ecs?.destroy();
    await topology?.stop();
  });

  async function instances(): Promise<ContainerInstance[]> {
    const out = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: CLUSTER,
        containerInstances: topology!.hosts.map((h) => h.containerInstanceArn),
      }),
    );
    expect(out.containerInstances).toHaveLength(topology!.hosts.length);
    return out.containerInstances!;
  }

  /** RunTask calls all at once; every call answers (tasks and failures), none throws. */
  async function race(family: string, counts: number[]) {
    const results: RunTaskCommandOutput[] = await Promise.all(
      counts.map((count) =>
        ecs.send(new RunTaskCommand({ cluster: CLUSTER, taskDefinition: family, count })),
      ),
    );
    const tasks = results.flatMap((r) => r.tasks ?? []);
    const failures = results.flatMap((r) => r.failures ?? []);
    placed.push(...tasks.map((t) => t.taskArn!));
    return { tasks, failures };
  }

  const reasons = (failures: Failure[]) => [...new Set(failures.map((f) => f.reason))];

  async function waitRunning(taskArns: string[]): Promise<Task[]> {
    let last: Task[] = [];
    try {
      return await eventually(
        async () => {
          last = await topology!.describeTasks(taskArns);
          return last.length === taskArns.length && last.every((t) => t.lastStatus === 'RUNNING')
            ? last
            : undefined;
        },
        `${taskArns.length} tasks RUNNING`,
        120_000,
        500,
      );
    } catch (err) {
      const notRunning = last.filter((t) => t.lastStatus !== 'RUNNING').map(summariseTask);
      throw new Error(`${(err as Error).message}; not running: ${notRunning.join('; ')}`);
    }
  }

  it('holds a static host port once per instance: one task per host, the rest RESOURCE:PORTS', async () => {
    const { tasks, failures } = await race(
      PORT_TASK.family,
      Array.from({ length: PORT_CALLS }, () => 1),
    );
    expect(tasks).toHaveLength(topology!.hosts.length);
    expect(new Set(tasks.map((t) => t.containerInstanceArn))).toEqual(
      new Set(topology!.hosts.map((h) => h.containerInstanceArn)),
    );
    expect(failures).toHaveLength(PORT_CALLS - tasks.length);
    expect(reasons(failures)).toEqual(['RESOURCE:PORTS']);

    const running = await waitRunning(tasks.map((t) => t.taskArn!));
    for (const task of running) {
      expect(task.containers?.[0].networkBindings).toEqual([
        expect.objectContaining({ containerPort: 8080, hostPort: PORT_TASK.hostPort }),
      ]);
    }
  });

  it('places exactly what fits by memory, the rest RESOURCE:MEMORY', async () => {
    // What room is left after the port race, as state tells it.
    const room = (await instances()).map((i) => ({
      memory: resource(i.remainingResources, 'MEMORY'),
      cpu: resource(i.remainingResources, 'CPU'),
    }));
    const capacity = room.reduce((sum, r) => sum + Math.floor(r.memory / MEMORY_TASK.memory), 0);
    // Memory is what binds: CPU would fit more on every instance.
    for (const r of room) {
      expect(Math.floor(r.cpu / MEMORY_TASK.cpu)).toBeGreaterThan(
        Math.floor(r.memory / MEMORY_TASK.memory),
      );
    }
    const requested = MEMORY_COUNTS.reduce((a, b) => a + b, 0);
    expect(capacity).toBeGreaterThan(0);
    expect(capacity).toBeLessThan(requested);

    const { tasks, failures } = await race(MEMORY_TASK.family, MEMORY_COUNTS);
    expect(tasks).toHaveLength(capacity);
    expect(failures).toHaveLength(requested - capacity);
    expect(reasons(failures)).toEqual(['RESOURCE:MEMORY']);
    await waitRunning(tasks.map((t) => t.taskArn!));
  });

  it('overcommits no instance and holds no host port twice; both replicas placed', async () => {
    const listed = await ecs.send(new ListTasksCommand({ cluster: CLUSTER, maxResults: 100 }));
    expect([...(listed.taskArns ?? [])].sort()).toEqual([...placed].sort());
    const described = await ecs.send(
      new DescribeTasksCommand({ cluster: CLUSTER, tasks: listed.taskArns }),
    );
    const tasks = described.tasks ?? [];
    expect(tasks).toHaveLength(placed.length);

    for (const instance of await instances()) {
      const arn = instance.containerInstanceArn!;
      const mine = tasks.filter((t) => t.containerInstanceArn === arn);
      const claimed = (name: 'cpu' | 'memory') => mine.reduce((sum, t) => sum + specOf(t)[name], 0);
      for (const [name, field] of [
        ['MEMORY', 'memory'],
        ['CPU', 'cpu'],
      ] as const) {
        const registered = resource(instance.registeredResources, name);
        const remaining = resource(instance.remainingResources, name);
        // What state holds back is exactly what the instance's tasks claim, within its size.
        expect({ arn, name, overcommitted: remaining < 0, held: registered - remaining }).toEqual({
          arn,
          name,
          overcommitted: false,
          held: claimed(field),
        });
      }
      // Full: not one more memory task fits.
      expect(resource(instance.remainingResources, 'MEMORY')).toBeLessThan(MEMORY_TASK.memory);

      const hostPorts = mine.flatMap((t) =>
        (t.containers ?? []).flatMap((c) => (c.networkBindings ?? []).map((b) => b.hostPort)),
      );
      expect(hostPorts).toEqual([PORT_TASK.hostPort]);
      const reserved = instance.remainingResources?.find((r) => r.name === 'PORTS');
      expect(reserved?.stringSetValue).toContain(String(PORT_TASK.hostPort));
    }

    // On the hosts' own engines: one container each publishes the port.
    for (const host of topology!.hosts) {
      const ports = (
        await host.docker([
          'ps',
          '--filter',
          `label=com.wharf.cluster=${CLUSTER}`,
          '--format',
          '{{.Ports}}',
        ])
      )
        .split('\n')
        .filter((line) => line.includes(`:${PORT_TASK.hostPort}->`));
      expect(ports).toHaveLength(1);
    }

    // Each replica answered its share of the calls (the api hands them out in turn).
    const calls = PORT_CALLS + MEMORY_COUNTS.length;
    const perReplica = await Promise.all(topology!.services.schedulers.map(runTaskLogLines));
    const summary = perReplica.map((lines) => ({
      calls: lines.length,
      placed: lines.reduce((sum, l) => sum + l.placed, 0),
      failed: lines.reduce((sum, l) => sum + l.failed, 0),
    }));
    process.stderr.write(`RunTask per scheduler replica: ${JSON.stringify(summary)}\n`);
    expect(summary).toHaveLength(2);
    for (const s of summary) expect(s.calls).toBeGreaterThan(0);
    expect(summary.reduce((sum, s) => sum + s.calls, 0)).toBe(calls);
    expect(summary.reduce((sum, s) => sum + s.placed, 0)).toBe(placed.length);
  });

  it('stops every task and gives all the room back', async () => {
    await Promise.all(
      placed.map((task) =>
        ecs.send(new StopTaskCommand({ cluster: CLUSTER, task, reason: 'e2e race done' })),
      ),
    );
    await eventually(
      async () => {
        const tasks = await topology!.describeTasks(placed);
        return tasks.every((t) => t.lastStatus === 'STOPPED') ? true : undefined;
      },
      `${placed.length} tasks STOPPED`,
      120_000,
      500,
    );
    for (const instance of await instances()) {
      expect(resource(instance.remainingResources, 'MEMORY')).toBe(
        resource(instance.registeredResources, 'MEMORY'),
      );
      expect(resource(instance.remainingResources, 'CPU')).toBe(
        resource(instance.registeredResources, 'CPU'),
      );
    }
  });
});

function specOf(task: Task): { cpu: number; memory: number } {
  const family = task.taskDefinitionArn?.split('/').pop()?.split(':')[0];
  if (family === PORT_TASK.family) return PORT_TASK;
  if (family === MEMORY_TASK.family) return MEMORY_TASK;
  throw new Error(`a task of an unexpected task definition: ${task.taskDefinitionArn}`);
}

function resource(list: ContainerInstance['remainingResources'], name: string): number {
  const found = list?.find((r) => r.name === name);
  if (found?.integerValue === undefined) throw new Error(`no ${name} resource in ${list}`);
  return found.integerValue;
}

/** The scheduler's `RunTask placed` log lines so far (pino JSON on its stdout). */
async function runTaskLogLines(
  scheduler: StartedService,
): Promise<{ placed: number; failed: number }[]> {
  const client = await getContainerRuntimeClient();
  const raw = (await client.container.dockerode
    .getContainer(scheduler.container.getId())
    .logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  const out: { placed: number; failed: number }[] = [];
  for (const line of raw.toString('utf8').split('\n')) {
    // Each line carries Docker's 8-byte stream header; the JSON starts at the first brace.
    const start = line.indexOf('{');
    if (start < 0 || !line.includes('"RunTask placed"')) continue;
    const entry = JSON.parse(line.slice(start)) as { msg?: string; placed: number; failed: number };
    if (entry.msg === 'RunTask placed') out.push({ placed: entry.placed, failed: entry.failed });
  }
  return out;
}
