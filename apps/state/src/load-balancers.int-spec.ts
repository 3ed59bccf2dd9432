/**
 * Load balancer resources (PutLbResource, DeleteLbResource, ListLbResources) and targets
 * (Register/Deregister/ReportTargetHealth/DescribeTargetHealth, the drained-targets sweep)
 * against a real Postgres and NATS, with their outbox events.
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { elbTargetKey, GrpcCode, Listener, Rule, TargetGroup } from '@wharf/domain';
import { ELB_EVENT_SCOPE } from '@wharf/messaging';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);
const grpcError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ELB = 'arn:aws:elasticloadbalancing:us-east-1:000000000000:';

describe('state: load balancer resources and targets', () => {
  let pg: StartedPostgres;
  let nats: StartedNats;
  let state: RunningState;
  let grpc: GrpcClient<stateV1.StateServiceClient>;
  let client: stateV1.StateServiceClient;
  let pool: Pool;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats()]);
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        // published events stay in the outbox, where this spec reads them
        OUTBOX_RETENTION_MS: '3600000',
        LB_TARGET_SWEEP_INTERVAL_MS: '100',
      }),
      logger,
    );
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    pool = new Pool({ connectionString: pg.url, max: 2 });
  });

  afterAll(async () => {
    grpc?.close();
    await pool?.end();
    await state?.stop();
    await Promise.all([pg?.container.stop(), nats?.container.stop()]);
  });

  const put = (kind: string, spec: unknown, arn = '') =>
    call(client.putLbResource({ kind, arn, specJson: JSON.stringify(spec) }));
  const del = (kind: string, arn: string) => call(client.deleteLbResource({ kind, arn }));
  const list = (req: Partial<stateV1.ListLbResourcesRequest>) =>
    call(client.listLbResources({ kind: '', parentArn: '', arns: [], names: [], ...req }));
  const ref = (id: string, port = 0, more: Partial<stateV1.TargetRef> = {}): stateV1.TargetRef => ({
    id,
    port,
    host: '',
    taskArn: '',
    serviceArn: '',
    ...more,
  });
  const events = async (resourceArn: string) => {
    const { rows } = await pool.query<{ type: string; version: number; subject: string }>(
      `SELECT subject, payload::jsonb ->> 'type' AS type, (payload::jsonb ->> 'version')::int AS version
         FROM outbox_events WHERE payload::jsonb ->> 'resourceArn' = $1 ORDER BY id`,
      [resourceArn],
    );
    for (const r of rows) {
      expect(r.subject).toBe(`wharf.events.${ELB_EVENT_SCOPE}.${r.type}`);
    }
    return rows.map((r) => `${r.type}@${r.version}`);
  };
  const targetEvents = (tg: string, id: string, port: number) => events(elbTargetKey(tg, id, port));
  const lastEventDetail = async (resourceArn: string) => {
    const { rows } = await pool.query<{ detail: stateV1.LbTarget }>(
      `SELECT payload::jsonb -> 'detail' AS detail FROM outbox_events
        WHERE payload::jsonb ->> 'resourceArn' = $1 ORDER BY id DESC LIMIT 1`,
      [resourceArn],
    );
    return rows[0]?.detail;
  };

  let lb: stateV1.LbResource;
  let listener: stateV1.LbResource;
  let tg: stateV1.LbResource;
  let rule: stateV1.LbResource;

  it('creates a load balancer, a target group, a listener and a rule', async () => {
    lb = await put('load-balancer', { name: 'web' });
    expect(lb.arn).toMatch(
      /^arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer\/app\/web\/[0-9a-f]{16}$/,
    );
    expect(lb).toMatchObject({ kind: 'load-balancer', name: 'web', parentArn: '', version: 1 });
    expect(JSON.parse(lb.specJson)).toMatchObject({
      loadBalancerArn: lb.arn,
      loadBalancerName: 'web',
      idleTimeoutSeconds: 60,
    });

    tg = await put('target-group', { name: 'api', port: 8080, deregistrationDelaySeconds: 0 });
    expect(tg.arn).toMatch(
      /^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup\/api\/[0-9a-f]{16}$/,
    );
    const tgSpec = JSON.parse(tg.specJson) as TargetGroup;
    expect(tgSpec.healthCheck.intervalSeconds).toBe(30);
    expect(tgSpec.targetGroupArn).toBe(tg.arn);

    listener = await put('listener', {
      loadBalancerArn: lb.arn,
      port: 8081,
      defaultActions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '404' } }],
    });
    expect(listener.arn.startsWith(`${ELB}listener/app/web/${lb.arn.split('/').pop()}/`)).toBe(
      true,
    );
    expect(listener.parentArn).toBe(lb.arn);
    expect((JSON.parse(listener.specJson) as Listener).listenerArn).toBe(listener.arn);

    rule = await put('rule', {
      listenerArn: listener.arn,
      priority: 10,
      conditions: [{ field: 'path-pattern', values: ['/api/*'] }],
      actions: [{ type: 'forward', targetGroupArn: tg.arn }],
    });
    expect(rule.arn.startsWith(`${ELB}listener-rule/app/web/`)).toBe(true);
    expect(rule.parentArn).toBe(listener.arn);
    const ruleSpec = JSON.parse(rule.specJson) as Rule;
    expect(ruleSpec.conditions).toEqual([
      { field: 'path-pattern', pathPatternConfig: { values: ['/api/*'] } },
    ]);
    expect(ruleSpec.actions[0].forwardConfig?.targetGroups).toEqual([
      { targetGroupArn: tg.arn, weight: 1 },
    ]);

    for (const r of [lb, tg, listener, rule]) {
      expect(await events(r.arn)).toEqual(['lb_resource.changed@1']);
    }
    const listed = await list({});
    expect(listed.resources.map((r) => r.arn)).toEqual([lb.arn, tg.arn, listener.arn, rule.arn]);
    expect((await list({ kind: 'rule', parentArn: listener.arn })).resources).toEqual([rule]);
    expect((await list({ names: ['api'] })).resources.map((r) => r.arn)).toEqual([tg.arn]);
    expect((await list({ kind: 'listener', arns: [listener.arn, rule.arn] })).resources).toEqual([
      listener,
    ]);
  });

  it('refuses taken names, ports and priorities with ALREADY_EXISTS', async () => {
    const cases: [string, unknown, string][] = [
      [
        'load-balancer',
        { name: 'web' },
        "DuplicateLoadBalancerNameException: A load balancer with the name 'web' already exists",
      ],
      [
        'target-group',
        { name: 'api', port: 1 },
        "DuplicateTargetGroupNameException: A target group with the name 'api' already exists",
      ],
      [
        'listener',
        {
          loadBalancerArn: lb.arn,
          port: 8081,
          defaultActions: [{ type: 'forward', targetGroupArn: tg.arn }],
        },
        'DuplicateListenerException: A listener already exists on port 8081',
      ],
      [
        'rule',
        {
          listenerArn: listener.arn,
          priority: 10,
          conditions: [{ field: 'host-header', values: ['a.example.com'] }],
          actions: [{ type: 'forward', targetGroupArn: tg.arn }],
        },
        "PriorityInUseException: Priority '10' is currently in use",
      ],
    ];
    for (const [kind, spec, details] of cases) {
      const err = await grpcError(put(kind, spec));
      expect(err.code).toBe(GrpcCode.ALREADY_EXISTS);
      expect(err.details).toContain(details);
    }
    // a listener port is unique over every load balancer
    const other = await put('load-balancer', { name: 'other' });
    const err = await grpcError(
      put('listener', {
        loadBalancerArn: other.arn,
        port: 8081,
        defaultActions: [{ type: 'forward', targetGroupArn: tg.arn }],
      }),
    );
    expect(err.code).toBe(GrpcCode.ALREADY_EXISTS);
    await del('load-balancer', other.arn);
  });

  it('refuses missing references with NOT_FOUND and invalid specs with INVALID_ARGUMENT', async () => {
    const missingTg = `${ELB}targetgroup/nope/0123456789abcdef`;
    const missingLb = `${ELB}loadbalancer/app/nope/0123456789abcdef`;
    const missingListener = `${ELB}listener/app/nope/0123456789abcdef/0123456789abcdef`;
    const cases: [string, unknown, string][] = [
      [
        'listener',
        {
          loadBalancerArn: missingLb,
          port: 9000,
          defaultActions: [{ type: 'forward', targetGroupArn: tg.arn }],
        },
        `LoadBalancerNotFoundException: Load balancer '${missingLb}' not found`,
      ],
      [
        'listener',
        {
          loadBalancerArn: lb.arn,
          port: 9000,
          defaultActions: [{ type: 'forward', targetGroupArn: missingTg }],
        },
        `TargetGroupNotFoundException: Target group '${missingTg}' not found`,
      ],
      [
        'rule',
        {
          listenerArn: missingListener,
          priority: 1,
          conditions: [{ field: 'path-pattern', values: ['/'] }],
          actions: [{ type: 'forward', targetGroupArn: tg.arn }],
        },
        'ListenerNotFoundException',
      ],
      [
        'rule',
        {
          listenerArn: listener.arn,
          priority: 2,
          conditions: [{ field: 'path-pattern', values: ['/'] }],
          actions: [
            {
              type: 'forward',
              forwardConfig: {
                targetGroups: [{ targetGroupArn: tg.arn }, { targetGroupArn: missingTg }],
              },
            },
          ],
        },
        'TargetGroupNotFoundException',
      ],
    ];
    for (const [kind, spec, details] of cases) {
      const err = await grpcError(put(kind, spec));
      expect(err.code).toBe(GrpcCode.NOT_FOUND);
      expect(err.details).toContain(details);
    }
    const lbAsListener = await grpcError(
      put('listener', { loadBalancerArn: lb.arn, port: 1, defaultActions: [] }, lb.arn),
    );
    expect(lbAsListener.code).toBe(GrpcCode.NOT_FOUND);
    expect(lbAsListener.details).toContain('ListenerNotFoundException');

    const invalid = await grpcError(
      put('target-group', { name: 'x', port: 80, healthCheck: { timeoutSeconds: 30 } }),
    );
    expect(invalid.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(invalid.details).toBe(
      'InvalidParameterException: healthCheck.timeoutSeconds must be less than healthCheck.intervalSeconds (30)',
    );
    expect((await grpcError(put('pool', {}))).code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(
      (await grpcError(call(client.putLbResource({ kind: 'rule', arn: '', specJson: '{' }))))
        .details,
    ).toContain('specJson is not valid JSON');
    expect((await list({})).resources).toHaveLength(4);
  });

  it('replaces a resource given its ARN: version + 1, one event; an unchanged spec changes nothing', async () => {
    const spec = {
      loadBalancerArn: lb.arn,
      port: 8082,
      defaultActions: [{ type: 'forward', targetGroupArn: tg.arn }],
    };
    const updated = await put('listener', spec, listener.arn);
    expect(updated).toMatchObject({ arn: listener.arn, version: 2, createdAt: listener.createdAt });
    expect((JSON.parse(updated.specJson) as Listener).port).toBe(8082);
    expect(await put('listener', spec, listener.arn)).toEqual(updated);
    expect(await events(listener.arn)).toEqual(['lb_resource.changed@1', 'lb_resource.changed@2']);
    listener = updated;

    const renamed = await grpcError(put('load-balancer', { name: 'web2' }, lb.arn));
    expect(renamed.details).toContain('name: a load balancer cannot be renamed');
    const retyped = await grpcError(
      put('target-group', { name: 'api', port: 8080, targetType: 'ip' }, tg.arn),
    );
    expect(retyped.details).toContain(
      'targetType: the target type of a target group cannot be changed',
    );
    const updatedLb = await put('load-balancer', { name: 'web', idleTimeoutSeconds: 120 }, lb.arn);
    expect(updatedLb.version).toBe(2);
    expect(JSON.parse(updatedLb.specJson)).toMatchObject({
      idleTimeoutSeconds: 120,
      createdTime: JSON.parse(lb.specJson).createdTime,
    });
  });

  it('refuses to delete a target group in use by a listener, a rule or a service', async () => {
    const inUse = await grpcError(del('target-group', tg.arn));
    expect(inUse.code).toBe(GrpcCode.FAILED_PRECONDITION);
    expect(inUse.details).toContain(
      `ResourceInUseException: Target group '${tg.arn}' is currently in use by a listener or a rule`,
    );

    const tg2 = await put('target-group', { name: 'svc-only', port: 80 });
    await call(client.createCluster({ clusterName: 'lbc', tagsJson: '' }));
    await call(
      client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family: 'web',
          containerDefinitions: [
            {
              name: 'web',
              image: 'wharf/busybox:dev',
              memory: 64,
              portMappings: [{ containerPort: 80 }],
            },
          ],
        }),
      }),
    );
    const createWith = (loadBalancers: unknown[]) =>
      call(
        client.createService({
          cluster: 'lbc',
          serviceName: 'web',
          taskDefinition: 'web',
          desiredCount: 0,
          schedulingStrategy: '',
          launchType: '',
          deploymentConfigurationJson: '',
          placementConstraintsJson: '',
          placementStrategyJson: '',
          loadBalancersJson: JSON.stringify(loadBalancers),
          tagsJson: '',
          healthCheckGracePeriodSeconds: undefined,
          clientToken: '',
        }),
      );
    // A service's load balancers must name a target group and a mapped container port.
    for (const [lb, message] of [
      [
        { targetGroupArn: `${tg2.arn}0`, containerName: 'web', containerPort: 80 },
        /loadBalancers\[0\]\.targetGroupArn: target group '.*' does not exist\./,
      ],
      [
        { targetGroupArn: tg2.arn, containerName: 'api', containerPort: 80 },
        /loadBalancers\[0\]\.containerName: the task definition has no container named 'api'\./,
      ],
      [
        { targetGroupArn: tg2.arn, containerName: 'web', containerPort: 81 },
        /container web did not have a container port 81 defined/,
      ],
    ] as const) {
      const refused = await grpcError(createWith([lb]));
      expect(refused.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(refused.details).toMatch(message);
    }
    const service = await createWith([
      { targetGroupArn: tg2.arn, containerName: 'web', containerPort: 80 },
    ]);
    const usedByService = await grpcError(del('target-group', tg2.arn));
    expect(usedByService.code).toBe(GrpcCode.FAILED_PRECONDITION);
    expect(usedByService.details).toContain(service.serviceArn);
    await pool.query(`UPDATE services SET status = 'INACTIVE' WHERE arn = $1`, [
      service.serviceArn,
    ]);
    expect((await del('target-group', tg2.arn)).version).toBe(2);
  });

  it('registers, reports health, deregisters and sweeps targets, with events', async () => {
    const TG = tg.arn;
    const registered = await call(
      client.registerTargets({
        targetGroupArn: TG,
        targets: [ref('i-1', 0, { host: '10.0.0.1', taskArn: 'task-1' }), ref('i-2', 9000)],
      }),
    );
    expect(registered.targets).toEqual([
      expect.objectContaining({
        id: 'i-1',
        port: 8080,
        host: '10.0.0.1',
        taskArn: 'task-1',
        state: 'initial',
        reason: 'Elb.RegistrationInProgress',
        version: 1,
      }),
      expect.objectContaining({ id: 'i-2', port: 9000, host: 'i-2', state: 'initial', version: 1 }),
    ]);
    // registered again as it is: nothing changes
    await call(
      client.registerTargets({
        targetGroupArn: TG,
        targets: [ref('i-1', 8080, { host: '10.0.0.1', taskArn: 'task-1' })],
      }),
    );
    expect(await targetEvents(TG, 'i-1', 8080)).toEqual(['target.changed@1']);

    const report = (id: string, port: number, state: string, reason = '') =>
      call(
        client.reportTargetHealth({
          reports: [
            { targetGroupArn: TG, id, port, state, reason, description: reason && 'failed' },
          ],
        }),
      );
    expect((await report('i-1', 8080, 'healthy')).targets).toEqual([
      expect.objectContaining({ state: 'healthy', reason: '', version: 2 }),
    ]);
    expect((await report('i-1', 8080, 'healthy')).targets).toEqual([]);
    expect((await report('i-2', 9000, 'unhealthy', 'Target.Timeout')).targets[0]).toMatchObject({
      state: 'unhealthy',
      reason: 'Target.Timeout',
      description: 'failed',
    });
    expect(
      (await report('i-2', 9000, 'unhealthy', 'Target.ResponseCodeMismatch')).targets[0],
    ).toMatchObject({ reason: 'Target.ResponseCodeMismatch', version: 3 });
    expect((await report('i-9', 80, 'healthy')).targets).toEqual([]);
    expect((await grpcError(report('i-1', 8080, 'draining'))).code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(await targetEvents(TG, 'i-1', 8080)).toEqual(['target.changed@1', 'target.changed@2']);
    expect(await targetEvents(TG, 'i-2', 9000)).toEqual([
      'target.changed@1',
      'target.changed@2',
      'target.changed@3',
    ]);

    const described = await call(
      client.describeTargetHealth({ targetGroupArn: TG, targets: [ref('i-2', 9000), ref('i-3')] }),
    );
    expect(described.targets).toEqual([
      expect.objectContaining({ id: 'i-2', state: 'unhealthy' }),
      expect.objectContaining({
        id: 'i-3',
        port: 8080,
        state: 'unused',
        reason: 'Target.NotRegistered',
      }),
    ]);
    expect(
      (await call(client.describeTargetHealth({ targetGroupArn: '', targets: [] }))).targets.map(
        (t) => t.id,
      ),
    ).toEqual(['i-1', 'i-2']);

    // deregister: draining (a report no longer changes it); unknown targets are ignored
    await state.stop(); // no sweep yet: restart below with the sweeper
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        // published events stay in the outbox, where this spec reads them
        OUTBOX_RETENTION_MS: '3600000',
        LB_TARGET_SWEEP_INTERVAL_MS: '60000',
      }),
      logger,
    );
    grpc.close();
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    const drained = await call(
      client.deregisterTargets({ targetGroupArn: TG, targets: [ref('i-1'), ref('i-404')] }),
    );
    expect(drained.targets).toEqual([
      expect.objectContaining({
        id: 'i-1',
        state: 'draining',
        reason: 'Target.DeregistrationInProgress',
      }),
    ]);
    expect(drained.targets[0].drainingSince).toBeGreaterThan(0);
    expect((await report('i-1', 8080, 'unhealthy', 'Target.Timeout')).targets).toEqual([]);
    await call(client.deregisterTargets({ targetGroupArn: TG, targets: [ref('i-1')] }));
    expect(await targetEvents(TG, 'i-1', 8080)).toEqual([
      'target.changed@1',
      'target.changed@2',
      'target.changed@3',
    ]);

    // registered again while draining: initial again
    const back = await call(
      client.registerTargets({
        targetGroupArn: TG,
        targets: [ref('i-1', 8080, { host: '10.0.0.1', taskArn: 'task-1' })],
      }),
    );
    expect(back.targets[0]).toMatchObject({ state: 'initial', drainingSince: 0, version: 4 });

    // a group with a delay of 0: the sweeper removes drained targets at its next run
    await call(client.deregisterTargets({ targetGroupArn: TG, targets: [ref('i-1')] }));
    await state.stop();
    state = await startState(
      stateConfigSchema.parse({
        DATABASE_URL: pg.url,
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        // published events stay in the outbox, where this spec reads them
        OUTBOX_RETENTION_MS: '3600000',
        LB_TARGET_SWEEP_INTERVAL_MS: '100',
      }),
      logger,
    );
    grpc.close();
    grpc = createStateClient(state.grpcUrl);
    client = grpc.client;
    for (let i = 0; i < 50 && (await targetEvents(TG, 'i-1', 8080)).length < 6; i++)
      await sleep(100);
    expect(await targetEvents(TG, 'i-1', 8080)).toEqual([
      'target.changed@1',
      'target.changed@2',
      'target.changed@3',
      'target.changed@4',
      'target.changed@5',
      'target.deleted@6',
    ]);
    expect(await lastEventDetail(elbTargetKey(TG, 'i-1', 8080))).toMatchObject({
      state: 'unused',
      reason: 'Target.NotRegistered',
    });
    expect(
      (await call(client.describeTargetHealth({ targetGroupArn: TG, targets: [] }))).targets.map(
        (t) => t.id,
      ),
    ).toEqual(['i-2']);

    // a group with the default delay (300 s) keeps draining targets
    const slow = await put('target-group', { name: 'slow', port: 80 });
    await call(client.registerTargets({ targetGroupArn: slow.arn, targets: [ref('i-5')] }));
    await call(client.deregisterTargets({ targetGroupArn: slow.arn, targets: [ref('i-5')] }));
    await sleep(400);
    expect(
      (await call(client.describeTargetHealth({ targetGroupArn: slow.arn, targets: [] }))).targets,
    ).toEqual([expect.objectContaining({ id: 'i-5', state: 'draining' })]);

    const missing = await grpcError(
      call(
        client.registerTargets({
          targetGroupArn: `${ELB}targetgroup/x/0123456789abcdef`,
          targets: [ref('i-1')],
        }),
      ),
    );
    expect(missing.code).toBe(GrpcCode.NOT_FOUND);
    expect(missing.details).toContain('TargetGroupNotFoundException');
    const ipGroup = await put('target-group', { name: 'ips', port: 80, targetType: 'ip' });
    const badIp = await grpcError(
      call(client.registerTargets({ targetGroupArn: ipGroup.arn, targets: [ref('i-1')] })),
    );
    expect(badIp.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(badIp.details).toContain('InvalidTargetException');
  });

  it('locks targets in one order, so lb replicas reporting them in opposite orders never deadlock', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `i-lock-${String(i).padStart(2, '0')}`);
    await call(
      client.registerTargets({ targetGroupArn: tg.arn, targets: ids.map((id) => ref(id)) }),
    );
    const reports = (order: string[], state: string) =>
      call(
        client.reportTargetHealth({
          reports: order.map((id) => ({
            targetGroupArn: tg.arn,
            id,
            port: 8080,
            state,
            reason: state === 'healthy' ? '' : 'Target.Timeout',
            description: '',
          })),
        }),
      );
    for (let round = 0; round < 10; round++) {
      const [a, b] = round % 2 ? ['healthy', 'unhealthy'] : ['unhealthy', 'healthy'];
      // Without one lock order Postgres aborts one of the two as a deadlock now and then.
      await Promise.all([reports(ids, a), reports([...ids].reverse(), b)]);
    }
    await call(
      client.deregisterTargets({ targetGroupArn: tg.arn, targets: ids.map((id) => ref(id)) }),
    );
  });

  it('deletes a load balancer with its listeners and rules, then the target group with its targets', async () => {
    const deleted = await del('load-balancer', lb.arn);
    expect(deleted).toMatchObject({ arn: lb.arn, version: 3 });
    expect(await events(rule.arn)).toEqual(['lb_resource.changed@1', 'lb_resource.deleted@2']);
    expect(await events(listener.arn)).toEqual([
      'lb_resource.changed@1',
      'lb_resource.changed@2',
      'lb_resource.deleted@3',
    ]);
    expect(await events(lb.arn)).toEqual([
      'lb_resource.changed@1',
      'lb_resource.changed@2',
      'lb_resource.deleted@3',
    ]);
    const { rows } = await pool.query<{ arn: string }>(
      `SELECT payload::jsonb ->> 'resourceArn' AS arn FROM outbox_events WHERE payload::jsonb ->> 'type' = 'lb_resource.deleted' ORDER BY id`,
    );
    const order = rows.map((r) => r.arn);
    expect(order.indexOf(rule.arn)).toBeLessThan(order.indexOf(listener.arn));
    expect(order.indexOf(listener.arn)).toBeLessThan(order.indexOf(lb.arn));
    expect((await list({ kind: 'listener' })).resources).toEqual([]);
    expect((await grpcError(del('load-balancer', lb.arn))).code).toBe(GrpcCode.NOT_FOUND);

    // no longer in use: the group goes, and its target with it
    await del('target-group', tg.arn);
    expect(await targetEvents(tg.arn, 'i-2', 9000)).toEqual([
      'target.changed@1',
      'target.changed@2',
      'target.changed@3',
      'target.deleted@4',
    ]);
    expect(
      (await grpcError(call(client.describeTargetHealth({ targetGroupArn: tg.arn, targets: [] }))))
        .code,
    ).toBe(GrpcCode.NOT_FOUND);

    // a listener delete takes its rules
    const lb2 = await put('load-balancer', { name: 'web' });
    const l2 = await put('listener', {
      loadBalancerArn: lb2.arn,
      port: 8081,
      defaultActions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '200' } }],
    });
    const r2 = await put('rule', {
      listenerArn: l2.arn,
      priority: 10,
      conditions: [{ field: 'path-pattern', values: ['/'] }],
      actions: [{ type: 'fixed-response', fixedResponseConfig: { statusCode: '204' } }],
    });
    await del('listener', l2.arn);
    expect(await events(r2.arn)).toEqual(['lb_resource.changed@1', 'lb_resource.deleted@2']);
    expect((await list({ parentArn: lb2.arn })).resources).toEqual([]);
  });

  it('relays the _elb events to JetStream', async () => {
    for (let i = 0; i < 50; i++) {
      const { rows } = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM outbox_events WHERE subject LIKE 'wharf.events._elb.%' AND published_at IS NULL`,
      );
      if (rows[0].n === '0') break;
      await sleep(100);
    }
    const { rows } = await pool.query<{ published: string; pending: string }>(
      `SELECT count(*) FILTER (WHERE published_at IS NOT NULL) AS published,
              count(*) FILTER (WHERE published_at IS NULL) AS pending
         FROM outbox_events WHERE subject LIKE 'wharf.events._elb.%'`,
    );
    expect(Number(rows[0].published)).toBeGreaterThan(10);
    expect(rows[0].pending).toBe('0');
  });
});
