/**
 * Cluster lifecycle (DeleteCluster, UpdateCluster, settings on CreateCluster) and task
 * definition lifecycle (Deregister, Delete, ListTaskDefinitions, ListTaskDefinitionFamilies)
 * against a real Postgres (and NATS, which the state service needs to start).
 */
import { Pool } from 'pg';
import pino from 'pino';
import { firstValueFrom, Observable } from 'rxjs';
import { GrpcCode } from '@wharf/domain';
import { createStateClient, GrpcClient, stateV1 } from '@wharf/proto';
import { startNats, startPostgres, StartedNats, StartedPostgres } from '@wharf/testing';
import { stateConfigSchema } from './config';
import { RunningState, startState } from './state';

jest.setTimeout(180_000);

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const call = <T>(o: Observable<T>) => firstValueFrom(o);
const grpcError = (o: Observable<unknown>) =>
  firstValueFrom(o).then(
    () => {
      throw new Error('expected a gRPC error');
    },
    (err: { code: number; details: string }) => err,
  );

const ARN = 'arn:aws:ecs:us-east-1:000000000000';
const tdArn = (ref: string) => `${ARN}:task-definition/${ref}`;

describe('state: cluster and task definition lifecycle', () => {
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
        STATE_AGENT_JOIN: 'open',
        NATS_URL: nats.url,
        STATE_GRPC_PORT: '0',
        STATE_OPS_PORT: '0',
        // published events stay in the outbox, where this spec reads them
        OUTBOX_RETENTION_MS: '3600000',
        TASK_DEFINITION_SWEEP_INTERVAL_MS: '100',
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

  const register = (family: string) =>
    call(
      client.registerTaskDefinition({
        definitionJson: JSON.stringify({
          family,
          containerDefinitions: [{ name: 'c', image: 'wharf/busybox:dev', memory: 64 }],
        }),
      }),
    );
  const outboxTypes = async (arn: string) => {
    const { rows } = await pool.query<{ type: string; version: number }>(
      `SELECT payload::jsonb ->> 'type' AS type, (payload::jsonb ->> 'version')::int AS version FROM outbox_events
        WHERE payload::jsonb ->> 'resourceArn' = $1 ORDER BY id`,
      [arn],
    );
    return rows;
  };
  /** A task row as CommitPlacements would leave it (only what these checks read). */
  const insertTask = (id: string, cluster: string, taskDefinitionArn: string) =>
    pool.query(
      `INSERT INTO tasks (id, arn, cluster, task_definition_arn, family, last_status, desired_status)
       VALUES ($1, $2, $3, $4, 'f', 'RUNNING', 'RUNNING')`,
      [id, `${ARN}:task/${cluster}/${id}`, cluster, taskDefinitionArn],
    );
  const listAll = async (req: Partial<stateV1.ListTaskDefinitionsRequest>, pageSize: number) => {
    const arns: string[] = [];
    let nextToken = req.nextToken ?? '';
    let pages = 0;
    do {
      if (pages > 50) throw new Error('listing does not end');
      const res = await call(
        client.listTaskDefinitions({
          familyPrefix: '',
          status: '',
          sort: '',
          ...req,
          nextToken,
          maxResults: pageSize,
        }),
      );
      expect(res.taskDefinitionArns.length).toBeLessThanOrEqual(pageSize);
      arns.push(...res.taskDefinitionArns);
      nextToken = res.nextToken;
      pages++;
    } while (nextToken);
    return { arns, pages };
  };
  const familiesAll = async (status: string, familyPrefix: string, pageSize: number) => {
    const families: string[] = [];
    let nextToken = '';
    do {
      const res = await call(
        client.listTaskDefinitionFamilies({
          familyPrefix,
          status,
          maxResults: pageSize,
          nextToken,
        }),
      );
      families.push(...res.families);
      nextToken = res.nextToken;
    } while (nextToken);
    return families;
  };

  describe('clusters', () => {
    it('creates with settings and configuration, updates them, and writes only real changes', async () => {
      const created = await call(
        client.createCluster({
          clusterName: 'insights',
          tagsJson: '',
          settingsJson: JSON.stringify([{ name: 'containerInsights', value: 'enabled' }]),
        }),
      );
      expect(JSON.parse(created.settingsJson)).toEqual([
        { name: 'containerInsights', value: 'enabled' },
      ]);
      expect(created.configurationJson).toBe('');

      const configuration = {
        executeCommandConfiguration: {
          kmsKeyId: 'key',
          logging: 'OVERRIDE',
          logConfiguration: { s3BucketName: 'b', s3KeyPrefix: 'exec/' },
        },
      };
      const updated = await call(
        client.updateCluster({
          cluster: `${ARN}:cluster/insights`,
          settingsJson: JSON.stringify([{ name: 'containerInsights', value: 'enhanced' }]),
          configurationJson: JSON.stringify(configuration),
        }),
      );
      expect(JSON.parse(updated.settingsJson)).toEqual([
        { name: 'containerInsights', value: 'enhanced' },
      ]);
      expect(JSON.parse(updated.configurationJson)).toEqual({
        executeCommandConfiguration: {
          ...configuration.executeCommandConfiguration,
          logConfiguration: {
            s3BucketName: 'b',
            s3KeyPrefix: 'exec/',
            s3EncryptionEnabled: false,
            cloudWatchEncryptionEnabled: false,
          },
        },
      });
      // The same again, and settings alone: configuration kept, nothing written.
      await call(
        client.updateCluster({
          cluster: 'insights',
          settingsJson: JSON.stringify([{ name: 'containerInsights', value: 'enhanced' }]),
          configurationJson: JSON.stringify(configuration),
        }),
      );
      const same = await call(
        client.updateCluster({
          cluster: 'insights',
          settingsJson: JSON.stringify([{ name: 'containerInsights', value: 'enhanced' }]),
        }),
      );
      expect(same.configurationJson).toBe(updated.configurationJson);
      expect(await outboxTypes(`${ARN}:cluster/insights`)).toEqual([
        { type: 'cluster.created', version: 1 },
        { type: 'cluster.updated', version: 2 },
      ]);
      const [described] = (await call(client.describeClusters({ clusters: ['insights'] })))
        .clusters;
      expect(described.settingsJson).toBe(updated.settingsJson);
      expect(described.configurationJson).toBe(updated.configurationJson);
    });

    it('refuses bad settings and configuration naming the member, and unknown clusters', async () => {
      const bad = await grpcError(
        client.updateCluster({
          cluster: 'default',
          settingsJson: JSON.stringify([{ name: 'containerInsights', value: 'maybe' }]),
        }),
      );
      expect(bad.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(bad.details).toBe(
        "InvalidParameterException: settings[0].value for containerInsights must be one of [enabled, disabled, enhanced]; got 'maybe'.",
      );
      const override = await grpcError(
        client.updateCluster({
          cluster: 'default',
          configurationJson: JSON.stringify({
            executeCommandConfiguration: { logging: 'OVERRIDE' },
          }),
        }),
      );
      expect(override.details).toMatch(
        /^InvalidParameterException: configuration\.executeCommandConfiguration\.logConfiguration is required/,
      );
      const missing = await grpcError(
        client.updateCluster({ cluster: 'nope', settingsJson: '[]' }),
      );
      expect([missing.code, missing.details]).toEqual([
        GrpcCode.NOT_FOUND,
        'ClusterNotFoundException: Cluster not found.',
      ]);
    });

    it('refuses to delete a cluster with instances, services or tasks, then deletes it', async () => {
      await call(client.createCluster({ clusterName: 'doomed', tagsJson: '' }));
      await register('doomed-td');
      const instance = await call(
        client.registerContainerInstance({
          cluster: 'doomed',
          containerInstanceArn: '',
          ec2InstanceId: 'i-doomed',
          total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
          attributes: [],
          agentVersion: '0.1.0',
          dockerVersion: '27.0',
          agentAddress: '10.0.0.9:4703',
          hostname: 'h',
          hostAddress: '10.0.0.9',
        }),
      );
      const deleteError = () => grpcError(client.deleteCluster({ cluster: 'doomed' }));

      let err = await deleteError();
      expect([err.code, err.details]).toEqual([
        GrpcCode.FAILED_PRECONDITION,
        'ClusterContainsContainerInstancesException: The Cluster cannot be deleted while Container Instances are active or draining.',
      ]);
      await pool.query(`UPDATE container_instances SET status = 'INACTIVE' WHERE arn = $1`, [
        instance.containerInstanceArn,
      ]);

      await call(
        client.createService({
          cluster: 'doomed',
          serviceName: 'svc',
          taskDefinition: 'doomed-td',
          desiredCount: 0,
          schedulingStrategy: '',
          launchType: '',
          deploymentConfigurationJson: '',
          placementConstraintsJson: '',
          placementStrategyJson: '',
          loadBalancersJson: '',
          tagsJson: '',
          healthCheckGracePeriodSeconds: undefined,
          clientToken: '',
        }),
      );
      err = await deleteError();
      expect(err.details).toBe(
        'ClusterContainsServicesException: The Cluster cannot be deleted while Services are active.',
      );
      // DRAINING still counts.
      await call(client.deleteService({ cluster: 'doomed', service: 'svc', force: false }));
      expect((await deleteError()).details).toMatch(/^ClusterContainsServicesException/);
      await pool.query(`UPDATE services SET status = 'INACTIVE' WHERE cluster = 'doomed'`);

      await insertTask('doomed-task', 'doomed', tdArn('doomed-td:1'));
      err = await deleteError();
      expect(err.details).toBe(
        'ClusterContainsTasksException: The Cluster cannot be deleted while Tasks are active.',
      );
      await pool.query(`UPDATE tasks SET last_status = 'STOPPED' WHERE id = 'doomed-task'`);

      const deleted = await call(client.deleteCluster({ cluster: `${ARN}:cluster/doomed` }));
      expect(deleted.status).toBe('INACTIVE');
      expect(deleted.clusterArn).toBe(`${ARN}:cluster/doomed`);

      // Gone for everything but DescribeClusters, which shows it INACTIVE.
      const described = await call(client.describeClusters({ clusters: ['doomed'] }));
      expect(described.clusters.map((c) => c.status)).toEqual(['INACTIVE']);
      const listed = await call(client.listClusters({ maxResults: 100, nextToken: '' }));
      expect(listed.clusterArns).not.toContain(`${ARN}:cluster/doomed`);
      for (const o of [
        client.deleteCluster({ cluster: 'doomed' }),
        client.updateCluster({ cluster: 'doomed', settingsJson: '[]' }),
        client.listContainerInstances({
          cluster: 'doomed',
          status: '',
          maxResults: 0,
          nextToken: '',
        }),
        client.listServices({
          cluster: 'doomed',
          launchType: '',
          schedulingStrategy: '',
          maxResults: 0,
          nextToken: '',
        }),
      ]) {
        expect((await grpcError(o)).details).toBe('ClusterNotFoundException: Cluster not found.');
      }
      const reRegister = await grpcError(
        client.registerContainerInstance({
          cluster: 'doomed',
          containerInstanceArn: '',
          ec2InstanceId: 'i-late',
          total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
          attributes: [],
          agentVersion: '0.1.0',
          dockerVersion: '27.0',
          agentAddress: '10.0.0.10:4703',
          hostname: 'h2',
          hostAddress: '10.0.0.10',
        }),
      );
      expect(reRegister.code).toBe(GrpcCode.NOT_FOUND);

      // CreateCluster brings the name back, ACTIVE, with what it is given now.
      const revived = await call(
        client.createCluster({ clusterName: 'doomed', tagsJson: '[{"key":"k","value":"v"}]' }),
      );
      expect(revived.status).toBe('ACTIVE');
      expect(JSON.parse(revived.tagsJson)).toEqual([{ key: 'k', value: 'v' }]);
      expect((await outboxTypes(`${ARN}:cluster/doomed`)).map((e) => e.type)).toEqual([
        'cluster.created',
        'cluster.deleted',
        'cluster.created',
      ]);
    });
    it('lets either a registration or a concurrent delete win, never both', async () => {
      for (let i = 0; i < 8; i++) {
        const name = `race-${i}`;
        await call(client.createCluster({ clusterName: name, tagsJson: '' }));
        const [registered, deleted] = await Promise.allSettled([
          call(
            client.registerContainerInstance({
              cluster: name,
              containerInstanceArn: '',
              ec2InstanceId: `i-${name}`,
              total: { cpu: 1024, memory: 1024, ports: [], portsUdp: [] },
              attributes: [],
              agentVersion: '0.1.0',
              dockerVersion: '27.0',
              agentAddress: '10.0.1.1:4703',
              hostname: name,
              hostAddress: '10.0.1.1',
            }),
          ),
          call(client.deleteCluster({ cluster: name })),
        ]);
        expect([registered.status, deleted.status].sort()).toEqual(['fulfilled', 'rejected']);
        const [cluster] = (await call(client.describeClusters({ clusters: [name] }))).clusters;
        if (deleted.status === 'fulfilled') {
          expect((registered as PromiseRejectedResult).reason.code).toBe(GrpcCode.NOT_FOUND);
          expect(cluster.status).toBe('INACTIVE');
          expect(cluster.registeredContainerInstancesCount).toBe(0);
        } else {
          expect((deleted as PromiseRejectedResult).reason.details).toMatch(
            /^ClusterContainsContainerInstancesException/,
          );
          expect(cluster.status).toBe('ACTIVE');
        }
      }
    });
  });

  describe('task definitions', () => {
    beforeAll(async () => {
      for (const family of ['td-b', 'td-b', 'td-b', 'td-a', 'td-c', 'td-c', 'other']) {
        await register(family);
      }
    });

    it('deregisters a revision: INACTIVE with deregisteredAt, once', async () => {
      const td = await call(client.deregisterTaskDefinition({ taskDefinition: 'td-b:1' }));
      expect(td.status).toBe('INACTIVE');
      expect(td.deregisteredAt).toBeGreaterThan(0);
      expect(JSON.parse(td.definitionJson).status).toBe('INACTIVE');
      const again = await call(
        client.deregisterTaskDefinition({ taskDefinition: tdArn('td-b:1') }),
      );
      expect(again.deregisteredAt).toBe(td.deregisteredAt);
      expect(await outboxTypes(tdArn('td-b:1'))).toEqual([
        { type: 'task_definition.registered', version: 1 },
        { type: 'task_definition.deregistered', version: 2 },
      ]);
      // The family alone now means revision 3; revision 1 cannot be used for new work.
      const latest = await call(client.describeTaskDefinition({ taskDefinition: 'td-b' }));
      expect(latest.revision).toBe(3);

      const noRevision = await grpcError(
        client.deregisterTaskDefinition({ taskDefinition: 'td-b' }),
      );
      expect([noRevision.code, noRevision.details]).toEqual([
        GrpcCode.INVALID_ARGUMENT,
        "InvalidParameterException: taskDefinition must name a revision (family:revision or a full ARN); got 'td-b'.",
      ]);
      const unknown = await grpcError(
        client.deregisterTaskDefinition({ taskDefinition: 'td-b:9' }),
      );
      expect([unknown.code, unknown.details]).toEqual([
        GrpcCode.NOT_FOUND,
        'ClientException: The specified task definition does not exist.',
      ]);
    });

    it('lists revisions by status and prefix, ASC and DESC, in stable pages', async () => {
      const ascending = await listAll({ familyPrefix: 'td-' }, 2);
      expect(ascending.arns).toEqual(['td-a:1', 'td-b:2', 'td-b:3', 'td-c:1', 'td-c:2'].map(tdArn));
      expect(ascending.pages).toBe(3);
      const descending = await listAll({ familyPrefix: 'td-', sort: 'DESC' }, 2);
      expect(descending.arns).toEqual([...ascending.arns].reverse());
      const inactive = await listAll({ status: 'INACTIVE' }, 100);
      expect(inactive.arns).toEqual([tdArn('td-b:1')]);
      const everything = await call(
        client.listTaskDefinitions({
          familyPrefix: '',
          status: '',
          sort: '',
          maxResults: 0,
          nextToken: '',
        }),
      );
      expect(everything.taskDefinitionArns).toContain(tdArn('other:1'));
      expect(everything.nextToken).toBe('');

      // Registrations before and after the cursor do not shift the pages still to come.
      const first = await call(
        client.listTaskDefinitions({
          familyPrefix: 'td-',
          status: 'ACTIVE',
          sort: 'ASC',
          maxResults: 2,
          nextToken: '',
        }),
      );
      await register('td-0');
      await register('td-d');
      const rest = await listAll(
        { familyPrefix: 'td-', status: 'ACTIVE', sort: 'ASC', nextToken: first.nextToken },
        2,
      );
      expect([...first.taskDefinitionArns, ...rest.arns]).toEqual(
        ['td-a:1', 'td-b:2', 'td-b:3', 'td-c:1', 'td-c:2', 'td-d:1'].map(tdArn),
      );
    });

    it('refuses tokens it did not issue for this listing, and bad arguments', async () => {
      const base = { familyPrefix: '', status: '', sort: '', maxResults: 1, nextToken: '' };
      const page = await call(client.listTaskDefinitions(base));
      expect(page.nextToken).not.toBe('');
      for (const req of [
        { ...base, nextToken: 'not-a-token' },
        { ...base, nextToken: Buffer.from('["x",1]').toString('base64url') },
        { ...base, sort: 'DESC', nextToken: page.nextToken },
        { ...base, status: 'SOMETHING' },
        { ...base, maxResults: 101 },
      ]) {
        const err = await grpcError(client.listTaskDefinitions(req));
        expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
        expect(err.details).toMatch(/^InvalidParameterException: /);
      }
      const familiesPage = await call(
        client.listTaskDefinitionFamilies({
          familyPrefix: '',
          status: '',
          maxResults: 1,
          nextToken: '',
        }),
      );
      const crossed = await grpcError(
        client.listTaskDefinitionFamilies({
          familyPrefix: '',
          status: '',
          maxResults: 1,
          nextToken: page.nextToken,
        }),
      );
      expect(crossed.details).toBe('InvalidParameterException: Invalid nextToken.');
      expect(familiesPage.nextToken).not.toBe('');
    });

    it('lists families by status with pages', async () => {
      await call(client.deregisterTaskDefinition({ taskDefinition: 'td-0:1' }));
      expect(await familiesAll('', 'td-', 2)).toEqual(['td-0', 'td-a', 'td-b', 'td-c', 'td-d']);
      expect(await familiesAll('ALL', 'td-', 1)).toEqual(['td-0', 'td-a', 'td-b', 'td-c', 'td-d']);
      expect(await familiesAll('ACTIVE', 'td-', 2)).toEqual(['td-a', 'td-b', 'td-c', 'td-d']);
      expect(await familiesAll('INACTIVE', 'td-', 2)).toEqual(['td-0']);
    });

    it('deletes INACTIVE revisions: unused at once, used ones once nothing uses them', async () => {
      await call(client.deregisterTaskDefinition({ taskDefinition: 'td-c:1' }));
      await insertTask('uses-td-c-1', 'default', tdArn('td-c:1'));

      const res = await call(
        client.deleteTaskDefinitions({
          taskDefinitions: ['td-b:1', tdArn('td-c:1'), 'td-b:2', 'td-b:9', 'td-b:1'],
        }),
      );
      expect(res.taskDefinitions.map((t) => [t.taskDefinitionArn, t.status])).toEqual([
        [tdArn('td-b:1'), 'DELETE_IN_PROGRESS'],
        [tdArn('td-c:1'), 'DELETE_IN_PROGRESS'],
      ]);
      expect(res.failures).toEqual([
        {
          arn: tdArn('td-b:2'),
          reason:
            'The specified task definition is still in ACTIVE status. Please deregister the target and try again.',
          detail: '',
        },
        { arn: 'td-b:9', reason: 'The specified task definition does not exist.', detail: '' },
      ]);

      // td-b:1 was used by nothing: gone already.
      const gone = await grpcError(client.describeTaskDefinition({ taskDefinition: 'td-b:1' }));
      expect(gone.code).toBe(GrpcCode.NOT_FOUND);
      expect((await outboxTypes(tdArn('td-b:1'))).map((e) => e.type)).toEqual([
        'task_definition.registered',
        'task_definition.deregistered',
        'task_definition.deleting',
        'task_definition.deleted',
      ]);
      // td-c:1 stays DELETE_IN_PROGRESS while its task runs (sweeps come every 100 ms).
      await new Promise((r) => setTimeout(r, 400));
      const kept = await call(client.describeTaskDefinition({ taskDefinition: 'td-c:1' }));
      expect(kept.status).toBe('DELETE_IN_PROGRESS');
      expect((await listAll({ status: 'DELETE_IN_PROGRESS' }, 10)).arns).toEqual([tdArn('td-c:1')]);
      // Deleting it again answers it as it is.
      const again = await call(client.deleteTaskDefinitions({ taskDefinitions: ['td-c:1'] }));
      expect(again.taskDefinitions.map((t) => t.status)).toEqual(['DELETE_IN_PROGRESS']);

      await pool.query(`UPDATE tasks SET last_status = 'STOPPED' WHERE id = 'uses-td-c-1'`);
      const deadline = Date.now() + 10_000;
      let code = 0;
      while (Date.now() < deadline) {
        code = await firstValueFrom(
          client.describeTaskDefinition({ taskDefinition: 'td-c:1' }),
        ).then(
          () => 0,
          (err: { code: number }) => err.code,
        );
        if (code) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(code).toBe(GrpcCode.NOT_FOUND);

      const tooMany = await grpcError(
        client.deleteTaskDefinitions({
          taskDefinitions: Array.from({ length: 11 }, (_, i) => `td-b:${i + 1}`),
        }),
      );
      expect(tooMany.code).toBe(GrpcCode.INVALID_ARGUMENT);
    });

    it('forgets a family whose revisions are all deleted, and keeps counting its revisions', async () => {
      await call(client.deregisterTaskDefinition({ taskDefinition: 'td-0:1' }));
      await call(client.deleteTaskDefinitions({ taskDefinitions: ['td-0:1'] }));
      expect(await familiesAll('ALL', 'td-0', 10)).toEqual([]);
      const next = await register('td-0');
      expect(next.revision).toBe(2);
      expect(await familiesAll('ACTIVE', 'td-0', 10)).toEqual(['td-0']);
    });
  });
});
