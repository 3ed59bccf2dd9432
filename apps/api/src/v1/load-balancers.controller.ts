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
import type { LoadBalancer } from '@wharf/domain';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';
import { LbResources } from './lb-resources';
import { LbResourceRoutes } from './lb-routes';
import { V1ExceptionFilter } from './v1-error';

/**
 * `/v1/load-balancers`: create (POST, a LoadBalancerInput), list, and get, replace (PUT) or
 * delete one by ARN (URL-encoded) or name. Deleting a load balancer deletes its listeners and
 * rules. Each answers the LoadBalancer state keeps.
 */
@Controller('v1/load-balancers')
@UseFilters(V1ExceptionFilter)
export class LoadBalancersController {
  private readonly routes: LbResourceRoutes<LoadBalancer>;

  constructor(lb: LbResources, @Inject(API_CONFIG) config: ApiConfig) {
    this.routes = new LbResourceRoutes(lb, config, 'load-balancer', 'LoadBalancerInput');
  }

  @Post()
  @HttpCode(201)
  create(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<LoadBalancer> {
    res.locals.operation = 'CreateLoadBalancer';
    return this.routes.create(req, res);
  }

  @Get()
  async list(
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ loadBalancers: LoadBalancer[] }> {
    res.locals.operation = 'DescribeLoadBalancers';
    return { loadBalancers: await this.routes.list('', res) };
  }

  @Get(':ref')
  get(@Param('ref') ref: string, @Res({ passthrough: true }) res: Response): Promise<LoadBalancer> {
    res.locals.operation = 'DescribeLoadBalancer';
    return this.routes.get(ref, res);
  }

  @Put(':ref')
  replace(
    @Param('ref') ref: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LoadBalancer> {
    res.locals.operation = 'ReplaceLoadBalancer';
    return this.routes.replace(ref, req, res);
  }

  @Delete(':ref')
  delete(
    @Param('ref') ref: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<LoadBalancer> {
    res.locals.operation = 'DeleteLoadBalancer';
    return this.routes.delete(ref, res);
  }
}
