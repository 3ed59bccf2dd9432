import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { stateV1 } from '@wharf/proto';
import type { TargetGroup } from '@wharf/domain';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';
import { LbResources } from './lb-resources';
import { LbResourceRoutes, requestIdOf, specOf } from './lb-routes';
import { jsonTypeOf, readJsonObject, V1Error, V1ExceptionFilter } from './v1-error';

/** A target as register and deregister take it (ELBv2 TargetDescription). */
export interface TargetDescription {
  id: string;
  /** absent: the target group's port */
  port?: number;
}

/** One target with its health, as ELBv2 DescribeTargetHealth answers it. */
export interface TargetHealthDescription {
  target: { id: string; port: number };
  /** the port health checks go to: the target's, or the group's health check port */
  healthCheckPort: string;
  targetHealth: { state: string; reason?: string; description?: string };
  /** the task the target serves and its service, when ECS registered it */
  taskArn?: string;
  serviceArn?: string;
}

/**
 * Checks the shape of a register / deregister body, `{targets: [{id, port?}]}`, naming the
 * member that is wrong. Which ids and ports a group takes is state's to judge; the port is
 * checked only so that it fits the gRPC message's int32.
 */
export function parseTargetsBody(body: Record<string, unknown>): TargetDescription[] {
  const { targets } = body;
  if (targets === undefined) {
    throw new V1Error(
      400,
      'InvalidParameterException',
      'targets is required: a list of {id, port}.',
    );
  }
  if (!Array.isArray(targets)) {
    throw new V1Error(
      400,
      'InvalidParameterException',
      `targets must be a list of {id, port}, not ${jsonTypeOf(targets)}.`,
    );
  }
  return targets.map((t: unknown, i) => {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) {
      throw new V1Error(
        400,
        'InvalidParameterException',
        `targets[${i}] must be an object {id, port}, not ${jsonTypeOf(t)}.`,
      );
    }
    const { id, port } = t as Record<string, unknown>;
    if (typeof id !== 'string' || !id) {
      throw new V1Error(
        400,
        'InvalidParameterException',
        `targets[${i}].id must be a container instance id or an IP address.`,
      );
    }
    if (
      port !== undefined &&
      (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    ) {
      throw new V1Error(
        400,
        'InvalidParameterException',
        `targets[${i}].port must be a whole number from 1 to 65535.`,
      );
    }
    return port === undefined ? { id } : { id, port };
  });
}

/** A target as the targets routes answer it. */
export function targetHealthDescription(
  target: stateV1.LbTarget,
  group: TargetGroup,
): TargetHealthDescription {
  const checkPort = group.healthCheck.port;
  return {
    target: { id: target.id, port: target.port },
    healthCheckPort: checkPort === 'traffic-port' ? String(target.port) : checkPort,
    targetHealth: {
      state: target.state,
      ...(target.reason ? { reason: target.reason } : {}),
      ...(target.description ? { description: target.description } : {}),
    },
    ...(target.taskArn ? { taskArn: target.taskArn } : {}),
    ...(target.serviceArn ? { serviceArn: target.serviceArn } : {}),
  };
}

/**
 * `/v1/target-groups`: create (POST, a TargetGroupInput), list, get, replace (PUT) or delete
 * one by ARN (URL-encoded) or name (a group an action or a service still uses is 409
 * ResourceInUseException), and its targets: `GET …/targets` (their health), `POST …/targets`
 * (register) and `POST …/targets/deregister`, with `{targets: [{id, port?}]}`.
 */
@Controller('v1/target-groups')
@UseFilters(V1ExceptionFilter)
export class TargetGroupsController {
  private readonly routes: LbResourceRoutes<TargetGroup>;

  constructor(
    private readonly lb: LbResources,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.routes = new LbResourceRoutes(lb, config, 'target-group', 'TargetGroupInput');
  }

  @Post()
  @HttpCode(201)
  create(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<TargetGroup> {
    res.locals.operation = 'CreateTargetGroup';
    return this.routes.create(req, res);
  }

  @Get()
  async list(@Res({ passthrough: true }) res: Response): Promise<{ targetGroups: TargetGroup[] }> {
    res.locals.operation = 'DescribeTargetGroups';
    return { targetGroups: await this.routes.list('', res) };
  }

  @Get(':ref')
  get(@Param('ref') ref: string, @Res({ passthrough: true }) res: Response): Promise<TargetGroup> {
    res.locals.operation = 'DescribeTargetGroup';
    return this.routes.get(ref, res);
  }

  @Put(':ref')
  replace(
    @Param('ref') ref: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TargetGroup> {
    res.locals.operation = 'ReplaceTargetGroup';
    return this.routes.replace(ref, req, res);
  }

  @Delete(':ref')
  delete(
    @Param('ref') ref: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<TargetGroup> {
    res.locals.operation = 'DeleteTargetGroup';
    return this.routes.delete(ref, res);
  }

  @Get(':ref/targets')
  async targets(
    @Param('ref') ref: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ targetHealthDescriptions: TargetHealthDescription[] }> {
    res.locals.operation = 'DescribeTargetHealth';
    const group = await this.group(ref, res);
    const targets = await this.lb.describeTargetHealth(group.targetGroupArn, requestIdOf(res));
    return { targetHealthDescriptions: targets.map((t) => targetHealthDescription(t, group)) };
  }

  @Post(':ref/targets')
  @HttpCode(200)
  async register(
    @Param('ref') ref: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ targetHealthDescriptions: TargetHealthDescription[] }> {
    res.locals.operation = 'RegisterTargets';
    const targets = parseTargetsBody(await this.body(req));
    const group = await this.group(ref, res);
    const changed = await this.lb.registerTargets(
      group.targetGroupArn,
      targets.map((t) => ({ id: t.id, port: t.port ?? 0 })),
      requestIdOf(res),
    );
    return { targetHealthDescriptions: changed.map((t) => targetHealthDescription(t, group)) };
  }

  @Post(':ref/targets/deregister')
  @HttpCode(200)
  async deregister(
    @Param('ref') ref: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ targetHealthDescriptions: TargetHealthDescription[] }> {
    res.locals.operation = 'DeregisterTargets';
    const targets = parseTargetsBody(await this.body(req));
    const group = await this.group(ref, res);
    const changed = await this.lb.deregisterTargets(
      group.targetGroupArn,
      targets.map((t) => ({ id: t.id, port: t.port ?? 0 })),
      requestIdOf(res),
    );
    return { targetHealthDescriptions: changed.map((t) => targetHealthDescription(t, group)) };
  }

  private async group(ref: string, res: Response): Promise<TargetGroup> {
    return specOf<TargetGroup>(await this.lb.find('target-group', ref, requestIdOf(res)));
  }

  private body(req: Request): Promise<Record<string, unknown>> {
    return readJsonObject(req, this.config.API_MAX_BODY_BYTES, '{targets: [{id, port}]}');
  }
}
