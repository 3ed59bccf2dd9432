import {
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Listener } from '@wharf/domain';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';
import { LbResources } from './lb-resources';
import { LbResourceRoutes, requestIdOf } from './lb-routes';
import { singleQueryValue, V1ExceptionFilter } from './v1-error';

/**
 * `/v1/listeners`: create (POST, a ListenerInput), list (all, or a load balancer's with
 * `?loadBalancerArn=` — its ARN or name), and get, replace (PUT) or delete one by ARN
 * (URL-encoded). Deleting a listener deletes its rules.
 */
@Controller('v1/listeners')
@UseFilters(V1ExceptionFilter)
export class ListenersController {
  private readonly routes: LbResourceRoutes<Listener>;

  constructor(
    private readonly lb: LbResources,
    @Inject(API_CONFIG) config: ApiConfig,
  ) {
    this.routes = new LbResourceRoutes(lb, config, 'listener', 'ListenerInput');
  }

  @Post()
  @HttpCode(201)
  create(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<Listener> {
    res.locals.operation = 'CreateListener';
    return this.routes.create(req, res);
  }

  @Get()
  async list(
    @Query('loadBalancerArn') loadBalancerParam: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ listeners: Listener[] }> {
    res.locals.operation = 'DescribeListeners';
    const loadBalancer = singleQueryValue('loadBalancerArn', loadBalancerParam);
    const parentArn = loadBalancer
      ? (await this.lb.find('load-balancer', loadBalancer, requestIdOf(res))).arn
      : '';
    return { listeners: await this.routes.list(parentArn, res) };
  }

  @Get(':arn')
  get(@Param('arn') arn: string, @Res({ passthrough: true }) res: Response): Promise<Listener> {
    res.locals.operation = 'DescribeListener';
    return this.routes.get(arn, res);
  }

  @Put(':arn')
  replace(
    @Param('arn') arn: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<Listener> {
    res.locals.operation = 'ReplaceListener';
    return this.routes.replace(arn, req, res);
  }

  @Delete(':arn')
  delete(@Param('arn') arn: string, @Res({ passthrough: true }) res: Response): Promise<Listener> {
    res.locals.operation = 'DeleteListener';
    return this.routes.delete(arn, res);
  }
}
