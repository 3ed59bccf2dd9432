/**
 * Container definition fields against the real Docker engine: what each becomes in Docker
 * (read back with inspect), dependsOn really enforced, volumes, network modes, and the fields
 * the agent refuses by name.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, IMAGES } from '@wharf/testing';
import { resolvePort } from './host-info';
import { EngineHarness } from './testing/engine-harness';

jest.setTimeout(120_000);

const IMAGE = IMAGES.workload;
const MiB = 1024 * 1024;
const h = new EngineHarness();
let hostDir: string;
const sharedVolume = `wharf-it-shared-${h.run}`;

beforeAll(async () => {
  await h.start();
  hostDir = await mkdtemp(join(tmpdir(), 'wharf-agent-vol-'));
  await writeFile(join(hostDir, 'greeting'), 'hello from the host\n', { mode: 0o644 });
  await chmod(hostDir, 0o755); // the container's user is not the test's
});

afterAll(async () => {
  await h.stop();
  await h.docker
    .getVolume(sharedVolume)
    .remove()
    .catch(() => undefined);
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
});

describe('container definition fields in Docker', () => {
  it('maps every field, runs it, and reports static and dynamic tcp/udp bindings', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    const [tcpPort, udpPort] = [await resolvePort(0), await resolvePort(0)];
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf(
        'fields',
        [
          {
            name: 'app',
            image: IMAGE,
            // Proves user, working directory, the mounts and the read-only root from inside.
            entryPoint: ['sh', '-c'],
            command: [
              'id -u > /data/uid && pwd > /data/pwd && cat /host/greeting > /data/greeting && ' +
                '(touch /rootfs-write 2>/dev/null && echo rw > /data/root || echo ro > /data/root) && ' +
                '(touch /host/x 2>/dev/null && echo rw > /data/host || echo ro > /data/host) && ' +
                'sleep 300',
            ],
            user: '1234',
            workingDirectory: '/tmp',
            memory: 64,
            memoryReservation: 32,
            cpu: 100,
            stopTimeout: 3,
            essential: true,
            hostname: 'app-host',
            extraHosts: [{ hostname: 'db.internal', ipAddress: '10.1.2.3' }],
            dnsServers: ['10.0.0.2'],
            readonlyRootFilesystem: true,
            ulimits: [{ name: 'nofile', softLimit: 1000, hardLimit: 2000 }],
            dockerLabels: { 'example.team': 'core' },
            logConfiguration: {
              logDriver: 'json-file',
              options: { 'max-size': '1m', 'max-file': '2' },
            },
            portMappings: [
              { containerPort: 8080, hostPort: tcpPort, protocol: 'tcp' },
              { containerPort: 5353, hostPort: udpPort, protocol: 'udp' },
              { containerPort: 9090, hostPort: 0 },
              { containerPort: 9091, protocol: 'udp' },
            ],
            mountPoints: [
              { sourceVolume: 'host', containerPath: '/host', readOnly: true },
              { sourceVolume: 'data', containerPath: '/data' },
              { sourceVolume: sharedVolume, containerPath: '/shared' },
            ],
          },
          {
            name: 'reader',
            image: IMAGE,
            command: ['sleep', '300'],
            essential: false,
            stopTimeout: 1,
            volumesFrom: [{ sourceContainer: 'app', readOnly: true }],
          },
        ],
        {
          volumes: [
            { name: 'host', host: { sourcePath: hostDir } },
            {
              name: 'data',
              // tmpfs owned by the container's user, which is not root.
              dockerVolumeConfiguration: {
                scope: 'task',
                driver: 'local',
                driverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'uid=1234' },
                labels: { k: 'v' },
              },
            },
            {
              // A shared volume's Docker name is the volume's name.
              name: sharedVolume,
              dockerVolumeConfiguration: {
                scope: 'shared',
                autoprovision: true,
                labels: { purpose: 'wharf-it' },
              },
            },
          ],
        },
      ),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    const app = running.containers.find((c) => c.name === 'app')!;
    expect(app.networkBindings).toEqual([
      { bindIP: '0.0.0.0', containerPort: 5353, hostPort: udpPort, protocol: 'udp' },
      { bindIP: '0.0.0.0', containerPort: 8080, hostPort: tcpPort, protocol: 'tcp' },
      { bindIP: '0.0.0.0', containerPort: 9090, hostPort: expect.any(Number), protocol: 'tcp' },
      { bindIP: '0.0.0.0', containerPort: 9091, hostPort: expect.any(Number), protocol: 'udp' },
    ]);
    for (const b of app.networkBindings!) expect(b.hostPort).toBeGreaterThan(0);

    const info = await h.inspect(taskArn, 'app');
    expect(info.Config).toMatchObject({
      User: '1234',
      WorkingDir: '/tmp',
      Hostname: 'app-host',
      Labels: expect.objectContaining({ 'example.team': 'core', 'com.wharf.essential': 'true' }),
    });
    expect(info.HostConfig).toMatchObject({
      Memory: 64 * MiB,
      MemoryReservation: 32 * MiB,
      CpuShares: 100,
      ReadonlyRootfs: true,
      ExtraHosts: ['db.internal:10.1.2.3'],
      Dns: ['10.0.0.2'],
      Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } },
      NetworkMode: 'bridge',
    });
    expect((info.Config as { StopTimeout?: number }).StopTimeout).toBe(3);
    const dataVolume = info.Mounts.find((m) => m.Destination === '/data')!;
    expect(dataVolume).toMatchObject({ Type: 'volume', RW: true });
    expect(info.Mounts.find((m) => m.Destination === '/host')).toMatchObject({
      Type: 'bind',
      RW: false,
    });
    expect(info.Mounts.find((m) => m.Destination === '/shared')).toMatchObject({
      Type: 'volume',
      Name: sharedVolume,
    });
    const reader = await h.inspect(taskArn, 'reader');
    expect(reader.HostConfig.VolumesFrom).toEqual([`${info.Name.replace(/^\//, '')}:ro`]);

    // What the container itself saw, read through the read-only volumesFrom mount.
    const read = async (file: string) => {
      const exec = await h.docker.getContainer(reader.Id).exec({
        Cmd: ['cat', `/data/${file}`],
        AttachStdout: true,
      });
      const stream = await exec.start({});
      const chunks: Buffer[] = [];
      await new Promise((r) => {
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', r);
      });
      // Strip Docker's 8-byte stream frame headers.
      return Buffer.concat(chunks).subarray(8).toString().trim();
    };
    await eventually(async () => ((await read('host')) ? true : undefined), 'app wrote its files');
    expect(await read('uid')).toBe('1234');
    expect(await read('pwd')).toBe('/tmp');
    expect(await read('greeting')).toBe('hello from the host');
    expect(await read('root')).toBe('ro');
    expect(await read('host')).toBe('ro');

    const volume = await h.docker.getVolume(dataVolume.Name!).inspect();
    expect(volume.Labels).toMatchObject({ k: 'v', 'com.wharf.task-arn': taskArn });
    expect(volume.Options).toMatchObject({ type: 'tmpfs', o: 'uid=1234' });

    engine.stopTask(taskArn, 'done', 'UserInitiated');
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.containers.map((c) => c.lastStatus)).toEqual(['STOPPED', 'STOPPED']);
    await h.waitUntilRemoved(taskArn);
    // The task volume goes with the task; the shared one stays.
    await eventually(async () => {
      try {
        await h.docker.getVolume(dataVolume.Name!).inspect();
        return undefined;
      } catch {
        return true;
      }
    }, 'task volume removed');
    await expect(h.docker.getVolume(sharedVolume).inspect()).resolves.toMatchObject({
      Labels: { purpose: 'wharf-it' },
    });
  });

  it('host and none network modes; task cpu and memory bound containers without their own', async () => {
    const engine = h.newEngine();
    await engine.start();
    const hostTask = h.newTaskArn();
    const port = await resolvePort(0);
    engine.startTask(
      h.taskOf(hostTask),
      h.definitionOf(
        'hostnet',
        [
          {
            name: 'main',
            image: IMAGE,
            command: ['sleep', '300'],
            stopTimeout: 1,
            portMappings: [{ containerPort: port }],
          },
        ],
        { networkMode: 'host', cpu: '512', memory: '96' },
      ),
    );
    const noneTask = h.newTaskArn();
    engine.startTask(
      h.taskOf(noneTask),
      h.definitionOf(
        'nonet',
        [{ name: 'main', image: IMAGE, command: ['sleep', '300'], stopTimeout: 1 }],
        { networkMode: 'none' },
      ),
    );
    const hostRunning = await h.waitForReport(hostTask, 'RUNNING');
    expect(hostRunning.containers[0].networkBindings).toEqual([
      { bindIP: '0.0.0.0', containerPort: port, hostPort: port, protocol: 'tcp' },
    ]);
    const hostInfo = await h.inspect(hostTask, 'main');
    expect(hostInfo.HostConfig).toMatchObject({
      NetworkMode: 'host',
      Memory: 96 * MiB,
      NanoCpus: 0.5e9,
    });
    await h.waitForReport(noneTask, 'RUNNING');
    expect((await h.inspect(noneTask, 'main')).HostConfig.NetworkMode).toBe('none');
    engine.stopTask(hostTask, 'done', 'UserInitiated');
    engine.stopTask(noneTask, 'done', 'UserInitiated');
    await Promise.all([h.waitForReport(hostTask, 'STOPPED'), h.waitForReport(noneTask, 'STOPPED')]);
  });

  it('refuses what it cannot honour: the task fails to start with a reason naming the field', async () => {
    const engine = h.newEngine();
    await engine.start();
    const cases: [object[], object, RegExp][] = [
      [[{ name: 'main', image: IMAGE, privileged: true }], {}, /\.privileged is refused/],
      [[{ name: 'main', image: IMAGE }], { networkMode: 'awsvpc' }, /networkMode awsvpc/],
      [
        [{ name: 'main', image: IMAGE, secrets: [{ name: 'A', valueFrom: 'arn:x' }] }],
        {},
        /containerDefinitions\[main\]\.secrets is not supported/,
      ],
      [
        [{ name: 'main', image: IMAGE, logConfiguration: { logDriver: 'awslogs' } }],
        {},
        /logConfiguration\.logDriver "awslogs"/,
      ],
      [
        [{ name: 'main', image: IMAGE }],
        { ephemeralStorage: { sizeInGiB: 30 } },
        /ephemeralStorage/,
      ],
    ];
    for (const [containers, extra, reason] of cases) {
      const taskArn = h.newTaskArn();
      const { accepted } = engine.startTask(
        h.taskOf(taskArn),
        h.definitionOf('refused', containers, extra),
      );
      expect(accepted).toBe(true);
      const stopped = await h.waitForReport(taskArn, 'STOPPED');
      expect(stopped.stopCode).toBe('TaskFailedToStart');
      expect(stopped.stoppedReason).toMatch(reason);
      expect(await h.containersOf(taskArn)).toHaveLength(0);
    }
    // Privileged is passed to Docker when the agent is configured to allow it. (Whether Docker
    // can then start it depends on the engine's own rights: in a nested, unprivileged engine
    // it fails with Docker's reason, which is not the agent's refusal.)
    const allowing = h.newEngine({ allowPrivileged: true, cleanupWaitMs: 60_000 });
    await allowing.start();
    const taskArn = h.newTaskArn();
    allowing.startTask(
      h.taskOf(taskArn),
      h.definitionOf('priv', [
        { name: 'main', image: IMAGE, command: ['sleep', '300'], privileged: true, stopTimeout: 1 },
      ]),
    );
    await eventually(
      async () =>
        h.reportsFor(taskArn).find((r) => r.lastStatus === 'RUNNING' || r.lastStatus === 'STOPPED'),
      'privileged task started or failed',
    );
    expect((await h.inspect(taskArn, 'main')).HostConfig.Privileged).toBe(true);
    allowing.stopTask(taskArn, 'done', 'UserInitiated');
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stoppedReason).not.toMatch(/UnsupportedFieldError/);
  });

  it('a shared volume that is missing and not autoprovisioned fails the task', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    const name = `wharf-it-missing-${h.run}`;
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf(
        'novol',
        [
          {
            name: 'main',
            image: IMAGE,
            command: ['sleep', '300'],
            mountPoints: [{ sourceVolume: name, containerPath: '/v' }],
          },
        ],
        {
          volumes: [{ name, dockerVolumeConfiguration: { scope: 'shared', autoprovision: false } }],
        },
      ),
    );
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(
      new RegExp(`CannotCreateVolumeError: shared volume ${name}`),
    );
    await expect(h.docker.getVolume(name).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('dependsOn, enforced', () => {
  it('SUCCESS: the dependent container is created only after its dependency exited 0', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf(
        'deps-success',
        [
          {
            name: 'app',
            image: IMAGE,
            command: ['sh', '-c', 'test -f /work/ready && sleep 300'],
            stopTimeout: 1,
            dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
            mountPoints: [{ sourceVolume: 'work', containerPath: '/work' }],
          },
          {
            name: 'init',
            image: IMAGE,
            essential: false,
            command: ['sh', '-c', 'sleep 1 && touch /work/ready'],
            mountPoints: [{ sourceVolume: 'work', containerPath: '/work' }],
          },
        ],
        { volumes: [{ name: 'work' }] },
      ),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    expect(running.containers.find((c) => c.name === 'init')).toMatchObject({
      lastStatus: 'STOPPED',
      exitCode: 0,
    });
    const init = await h.inspect(taskArn, 'init');
    const app = await h.inspect(taskArn, 'app');
    expect(Date.parse(app.Created)).toBeGreaterThanOrEqual(Date.parse(init.State.FinishedAt));
    expect(app.State.Running).toBe(true);
    engine.stopTask(taskArn, 'done', 'UserInitiated');
    await h.waitForReport(taskArn, 'STOPPED');
  });

  it('SUCCESS that can never be met (exit 3) fails the task naming the dependency', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('deps-fail', [
        {
          name: 'init',
          image: IMAGE,
          essential: false,
          command: ['sh', '-c', 'exit 3'],
        },
        {
          name: 'app',
          image: IMAGE,
          command: ['sleep', '300'],
          dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }],
        },
      ]),
    );
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toBe(
      'DependencyError: container app dependsOn init SUCCESS, which cannot be met: init exited with code 3',
    );
    expect(stopped.containers.find((c) => c.name === 'init')?.exitCode).toBe(3);
    expect(stopped.containers.find((c) => c.name === 'app')?.runtimeId).toBe('');
    // app was never created.
    expect((await h.containersOf(taskArn)).length).toBeLessThanOrEqual(1);
  });

  it('COMPLETE accepts any exit code; START only needs the dependency started', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('deps-complete', [
        {
          name: 'app',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          dependsOn: [
            { containerName: 'migrate', condition: 'COMPLETE' },
            { containerName: 'sidecar', condition: 'START' },
          ],
        },
        { name: 'migrate', image: IMAGE, essential: false, command: ['sh', '-c', 'exit 5'] },
        { name: 'sidecar', image: IMAGE, command: ['sleep', '300'], stopTimeout: 1 },
      ]),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    const byName = Object.fromEntries(running.containers.map((c) => [c.name, c]));
    expect(byName.migrate).toMatchObject({ lastStatus: 'STOPPED', exitCode: 5 });
    expect(byName.sidecar.lastStatus).toBe('RUNNING');
    expect(byName.app.lastStatus).toBe('RUNNING');
    engine.stopTask(taskArn, 'done', 'UserInitiated');
    await h.waitForReport(taskArn, 'STOPPED');
  });

  it('HEALTHY waits for the dependency’s health check; task and container health are reported', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('deps-healthy', [
        {
          name: 'db',
          image: IMAGE,
          command: ['sh', '-c', 'sleep 2 && touch /ready && sleep 300'],
          stopTimeout: 1,
          healthCheck: { command: ['CMD', 'test', '-f', '/ready'], interval: 1, retries: 10 },
        },
        {
          name: 'app',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
        },
      ]),
    );
    const running = await h.waitForReport(taskArn, 'RUNNING');
    expect(running.containers.find((c) => c.name === 'db')?.healthStatus).toBe('HEALTHY');
    const db = await h.inspect(taskArn, 'db');
    const app = await h.inspect(taskArn, 'app');
    expect(db.Config.Healthcheck).toEqual({
      Test: ['CMD', 'test', '-f', '/ready'],
      Interval: 1e9,
      Timeout: 5e9,
      Retries: 10,
    }); // Docker drops StartPeriod 0 (the ECS default)
    expect(Date.parse(app.Created) - Date.parse(db.State.StartedAt)).toBeGreaterThanOrEqual(1_500);
    engine.stopTask(taskArn, 'done', 'UserInitiated');
    await h.waitForReport(taskArn, 'STOPPED');
  });

  it('HEALTHY on a dependency that turns unhealthy fails the task', async () => {
    const engine = h.newEngine();
    await engine.start();
    const taskArn = h.newTaskArn();
    engine.startTask(
      h.taskOf(taskArn),
      h.definitionOf('deps-unhealthy', [
        {
          name: 'db',
          image: IMAGE,
          command: ['sleep', '300'],
          stopTimeout: 1,
          healthCheck: { command: ['CMD-SHELL', 'exit 1'], interval: 1, retries: 1 },
        },
        {
          name: 'app',
          image: IMAGE,
          command: ['sleep', '300'],
          dependsOn: [{ containerName: 'db', condition: 'HEALTHY' }],
        },
      ]),
    );
    const stopped = await h.waitForReport(taskArn, 'STOPPED');
    expect(stopped.stopCode).toBe('TaskFailedToStart');
    expect(stopped.stoppedReason).toMatch(
      /dependsOn db HEALTHY, which cannot be met: db is unhealthy/,
    );
  });
});
