import type { Request, Response } from 'express';
import type { LbResourceKind } from '@wharf/domain';
import type { ApiConfig } from '../config';
import { LbResources } from './lb-resources';
import { readJsonObject } from './v1-error';

/** The request id the api's middleware gave this request (it is in the log line too). */
export function requestIdOf(res: Response): string | undefined {
  return res.locals.requestId as string | undefined;
}

/** A resource as the api answers it: the normalized spec state keeps. */
export function specOf<T>(resource: { specJson: string }): T {
  return JSON.parse(resource.specJson) as T;
}

/**
 * What the four resource controllers share: create, get, replace and delete one resource of
 * `kind`, each answering the resource's normalized spec. `inputName` is the body's schema
 * name, for the 400 on a body that is not an object.
 */
export class LbResourceRoutes<T> {
  constructor(
    private readonly lb: LbResources,
    private readonly config: ApiConfig,
    private readonly kind: LbResourceKind,
    private readonly inputName: string,
  ) {}

  async create(req: Request, res: Response): Promise<T> {
    const input = await this.body(req);
    return specOf<T>(await this.lb.create(this.kind, input, requestIdOf(res)));
  }

  async get(ref: string, res: Response): Promise<T> {
    return specOf<T>(await this.lb.find(this.kind, ref, requestIdOf(res)));
  }

  async replace(ref: string, req: Request, res: Response): Promise<T> {
    const input = await this.body(req);
    return specOf<T>(await this.lb.replace(this.kind, ref, input, requestIdOf(res)));
  }

  async delete(ref: string, res: Response): Promise<T> {
    return specOf<T>(await this.lb.delete(this.kind, ref, requestIdOf(res)));
  }

  async list(parentArn: string, res: Response): Promise<T[]> {
    const resources = await this.lb.list(this.kind, parentArn, requestIdOf(res));
    return resources.map((r) => specOf<T>(r));
  }

  private body(req: Request): Promise<Record<string, unknown>> {
    return readJsonObject(req, this.config.API_MAX_BODY_BYTES, `a ${this.inputName}`);
  }
}
