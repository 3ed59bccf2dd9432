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
import type { Rule } from '@wharf/domain';
import type { ApiConfig } from '../config';
import { API_CONFIG } from '../tokens';
import { LbResources } from './lb-resources';
import { LbResourceRoutes, requestIdOf } from './lb-routes';
import { singleQueryValue, V1ExceptionFilter } from './v1-error';

/**
 * `/v1/rules`: create (POST, a RuleInput), list (all, or a listener's with `?listenerArn=`),
 * and get, replace (PUT) or delete one by ARN (URL-encoded). A listener's default actions
 * are on the listener, not a rule here.
 */
@Controller('v1/rules')
@UseFilters(V1ExceptionFilter)
export class RulesController {
  private readonly routes: LbResourceRoutes<Rule>;

  constructor(
    private readonly lb: LbResources,
    @Inject(API_CONFIG) config: ApiConfig,
  ) {
    this.routes = new LbResourceRoutes(lb, config, 'rule', 'RuleInput');
  }

  @Post()
  @HttpCode(201)
  create(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<Rule> {
    res.locals.operation = 'CreateRule';
    return this.routes.create(req, res);
  }

  @Get()
  async list(
    @Query('listenerArn') listenerParam: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ rules: Rule[] }> {
    res.locals.operation = 'DescribeRules';
    const listener = singleQueryValue('listenerArn', listenerParam);
    const parentArn = listener
      ? (await this.lb.find('listener', listener, requestIdOf(res))).arn
      : '';
    return { rules: await this.routes.list(parentArn, res) };
  }

  @Get(':arn')
  get(@Param('arn') arn: string, @Res({ passthrough: true }) res: Response): Promise<Rule> {
    res.locals.operation = 'DescribeRule';
    return this.routes.get(arn, res);
  }

  @Put(':arn')
  replace(
    @Param('arn') arn: string,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<Rule> {
    res.locals.operation = 'ReplaceRule';
    return this.routes.replace(arn, req, res);
  }

  @Delete(':arn')
  delete(@Param('arn') arn: string, @Res({ passthrough: true }) res: Response): Promise<Rule> {
    res.locals.operation = 'DeleteRule';
    return this.routes.delete(arn, res);
  }
}
