import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { OPERATIONS } from '../operations';
import { shapeOf } from '../protocol/ecs-model';
import { ECS_MODEL } from '../protocol/ecs-model.generated';
import { ecsSchemaName } from './ecs-openapi';
import { EcsRestController } from './ecs-rest.controller';
import { ECS_ROUTES } from './ecs-routes';
import { ListenersController } from './listeners.controller';
import { LoadBalancersController } from './load-balancers.controller';
import { LogsController } from './logs.controller';
import { OpenApiDocument, OPENAPI_DOCUMENT } from './openapi';
import { DOCS_HTML, OpenApiController } from './openapi.controller';
import { PlacementController } from './placement.controller';
import { RulesController } from './rules.controller';
import { TargetGroupsController } from './target-groups.controller';
import { UtilisationController } from './utilisation.controller';

const doc = JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)) as OpenApiDocument;
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ path, method, op: op! })),
);

/** Every `$ref` anywhere under `node`, with where it is. */
function refsOf(node: unknown, at = '#'): { ref: string; at: string }[] {
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [{ ref: v, at }] : refsOf(v, `${at}/${k}`),
  );
}

function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/')) {
    node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/')];
  }
  return node;
}

/** `/v1/x/:a/y` and `/v1/x/{b}/y` both as `/v1/x/{}/y`. */
const shape = (path: string) => path.replace(/:[^/]+|\{[^}]+\}/g, '{}');

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 JSON', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBeTruthy();
    expect(operations.length).toBeGreaterThan(20);
  });

  it('gives every operation a unique id, a declared tag and a success response', () => {
    const ids = operations.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const tags = new Set(doc.tags.map((t) => t.name));
    for (const { path, method, op } of operations) {
      const where = `${method} ${path}`;
      expect([where, op.tags.every((t) => tags.has(t))]).toEqual([where, true]);
      expect([where, Object.keys(op.responses).some((s) => /^2\d\d$/.test(s))]).toEqual([
        where,
        true,
      ]);
    }
  });

  it('resolves every $ref', () => {
    const refs = refsOf(doc);
    expect(refs.length).toBeGreaterThan(50);
    expect(refs.filter((r) => resolve(r.ref) === undefined)).toEqual([]);
  });

  it('declares each path template parameter, and no path parameter that is not in the path', () => {
    for (const { path, method, op } of operations) {
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? [])
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      expect([`${method} ${path}`, declared]).toEqual([`${method} ${path}`, inPath]);
    }
  });

  it('describes exactly the routes the /v1 controllers serve', () => {
    const controllers = [
      EcsRestController,
      LoadBalancersController,
      ListenersController,
      RulesController,
      TargetGroupsController,
      LogsController,
      UtilisationController,
      PlacementController,
      OpenApiController,
    ];
    const served: string[] = [];
    for (const controller of controllers) {
      const base = Reflect.getMetadata(PATH_METADATA, controller) as string;
      const proto = controller.prototype as unknown as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined) continue;
        const full = `/${[base, path].filter((p) => p && p !== '/').join('/')}`;
        served.push(`${RequestMethod[method].toLowerCase()} ${shape(full)}`);
      }
    }
    const documented = operations.map((o) => `${o.method} ${shape(o.path)}`);
    expect(documented.sort()).toEqual(served.sort());
  });
});

describe('the ECS routes in the OpenAPI document', () => {
  const ecsOps = operations.filter((o) => o.op['x-ecs-operation']);

  it('give every ECS operation the api serves a /v1 route, and name no other', () => {
    const documented = new Set(ecsOps.map((o) => o.op['x-ecs-operation']));
    expect([...documented].sort()).toEqual(Object.keys(OPERATIONS).sort());
    expect(ecsOps).toHaveLength(ECS_ROUTES.length);
    const generic = doc.paths['/v1/ecs/{operation}']?.post;
    const operationParam = generic?.parameters?.find((p) => p.name === 'operation');
    expect(operationParam?.schema.enum).toEqual(Object.keys(OPERATIONS));
  });

  it('describe every ECS shape they reach member for member as the ECS model has it', () => {
    const ecsSchemas = Object.entries(doc.components.schemas).filter(([n]) => n.startsWith('ecs.'));
    expect(ecsSchemas.length).toBeGreaterThan(100);
    for (const [name, schema] of ecsSchemas) {
      const shape = shapeOf(ECS_MODEL, name.slice('ecs.'.length));
      const where = name;
      switch (shape.type) {
        case 'structure':
          expect([where, Object.keys(schema.properties ?? {})]).toEqual([
            where,
            Object.keys(shape.members ?? {}),
          ]);
          expect([where, schema.required]).toEqual([where, shape.required ?? []]);
          break;
        case 'enum':
          expect([where, schema.enum]).toEqual([where, shape.values]);
          break;
        case 'list':
          expect([where, schema.type]).toEqual([where, 'array']);
          break;
        case 'map':
          expect([where, schema.type, typeof schema.additionalProperties]).toEqual([
            where,
            'object',
            'object',
          ]);
          break;
      }
    }
  });

  it("answer each route with its operation's ECS output shape (or the one resource)", () => {
    for (const route of ECS_ROUTES) {
      const op = doc.paths[route.path]?.[route.method];
      const where = `${route.method} ${route.path}`;
      const success = op?.responses[String(route.status ?? 200)] as
        { content: Record<string, { schema: { $ref: string } }> } | undefined;
      const ref = success?.content['application/json'].schema.$ref ?? '';
      const expected = route.one
        ? `#/components/schemas/${route.one.as[0].toUpperCase()}${route.one.as.slice(1)}Answer`
        : `#/components/schemas/${ecsSchemaName(ECS_MODEL.operations[route.operation].output)}`;
      expect([where, ref]).toEqual([where, expected]);
      if (route.one) expect([where, '404' in op!.responses]).toEqual([where, true]);
    }
  });

  it('lists the 404 of a missing named resource and the 401 of a missing token', () => {
    const describe = doc.paths['/v1/clusters/{cluster}']!.get!;
    expect(describe.responses['404']).toMatchObject({
      description: expect.stringContaining('ClusterNotFoundException'),
    });
    expect(describe.responses['401']).toBeDefined();
    expect(describe.parameters?.map((p) => `${p.in} ${p.name}`)).toEqual([
      'path cluster',
      'query include',
    ]);
    const list = doc.paths['/v1/clusters']!.get!;
    expect(list.parameters?.map((p) => `${p.in} ${p.name}`)).toEqual([
      'query nextToken',
      'query maxResults',
    ]);
  });

  it('lists the 404 of a missing resource named in the path and the 503 of every ECS route', () => {
    const td = doc.paths['/v1/task-definitions/{taskDefinition}']!;
    for (const op of [td.get!, td.delete!]) {
      expect(op.responses['404']).toMatchObject({
        description: expect.stringContaining('ClientException'),
      });
    }
    expect(
      doc.paths['/v1/clusters/{cluster}/tasks/{task}']!.delete!.responses['404'],
    ).toMatchObject({ description: expect.stringContaining('InvalidParameterException') });
    expect(
      (doc.paths['/v1/clusters/{cluster}/tasks']!.post!.responses['404'] as { description: string })
        .description,
    ).not.toContain('ClientException');
    for (const route of ECS_ROUTES) {
      expect(doc.paths[route.path]![route.method]!.responses['503']).toMatchObject({
        description: expect.stringContaining('ServiceUnavailableException'),
      });
    }
  });
});

describe('GET /v1/openapi.json and /v1/docs', () => {
  it('serve the document and a page that renders it', async () => {
    const app = await NestFactory.create(
      { module: class DocsTestModule {}, controllers: [OpenApiController] } as never,
      new ExpressAdapter(),
      { bodyParser: false, logger: false },
    );
    await app.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
      const res = await fetch(`${base}/v1/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(doc);
      const page = await fetch(`${base}/v1/docs`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toBe(DOCS_HTML);
      expect(html).toContain("fetch('/v1/openapi.json')");
      expect(html).not.toMatch(/<script[^>]+src=/);
    } finally {
      await app.close();
    }
  });
});
