import {
  ACCOUNT_SETTING_NAMES,
  ACCOUNT_SETTINGS,
  accountSettingRule,
  InvalidParameterError,
  rootPrincipalArn,
  validateAccountSetting,
  validatePrincipalArn,
} from '@wharf/domain';
import type { stateV1 } from '@wharf/proto';
import type { AccountSettingRepository } from './account-setting.repository';
import type { StateContext } from './context';
import { pageToken } from './db';

/** ECS: ListAccountSettings answers 1 to 10 settings a page, 10 unless asked. */
export const MAX_ACCOUNT_SETTINGS_PAGE = 10;

/**
 * PutAccountSetting(Default), DeleteAccountSetting and ListAccountSettings. A principal's own
 * setting wins; else the root principal's (the account default, which PutAccountSettingDefault
 * sets); else the default ECS documents. Wharf stores and answers every setting; none changes
 * what it does.
 */
export class AccountSettingsUseCase {
  constructor(
    private readonly ctx: StateContext,
    private readonly settings: AccountSettingRepository,
  ) {}

  private get root(): string {
    return rootPrincipalArn(this.ctx.arn.accountId);
  }

  async put(req: stateV1.PutAccountSettingRequest): Promise<stateV1.AccountSetting> {
    const principal = req.accountDefault ? this.root : this.principal(req.principalArn);
    validateAccountSetting(req.name, req.value, {
      isRoot: principal === this.root,
      accountDefault: req.accountDefault,
    });
    await this.settings.upsert(this.ctx.pool, principal, req.name, req.value);
    return this.toProto(req.name, req.value, principal);
  }

  /**
   * Removes the principal's own setting. The answer is the value it had; when it had none, the
   * value in effect for it (nothing was deleted, nothing changes).
   */
  async delete(req: stateV1.DeleteAccountSettingRequest): Promise<stateV1.AccountSetting> {
    const principal = this.principal(req.principalArn);
    const rule = accountSettingRule(req.name);
    if (rule.awsManaged) {
      throw new InvalidParameterError(
        `name: ${req.name} is read-only; it is managed by AWS (type aws_managed).`,
      );
    }
    const deleted = await this.settings.delete(this.ctx.pool, principal, req.name);
    const value = deleted ?? (await this.effective(principal)).get(req.name)!;
    return this.toProto(req.name, value, principal);
  }

  async list(
    req: stateV1.ListAccountSettingsRequest,
  ): Promise<stateV1.ListAccountSettingsResponse> {
    const principal = this.principal(req.principalArn);
    if (req.name) accountSettingRule(req.name);
    if (req.value && !req.name) {
      throw new InvalidParameterError('value: a value can only be given with a setting name.');
    }
    if (req.maxResults < 0 || req.maxResults > MAX_ACCOUNT_SETTINGS_PAGE) {
      throw new InvalidParameterError(
        `maxResults must be between 1 and ${MAX_ACCOUNT_SETTINGS_PAGE}.`,
      );
    }
    const limit = req.maxResults || MAX_ACCOUNT_SETTINGS_PAGE;
    const values = req.effectiveSettings
      ? await this.effective(principal)
      : new Map(
          (await this.settings.ofPrincipals(this.ctx.pool, [principal])).map((r) => [
            r.name,
            r.value,
          ]),
        );
    const after = pageToken.decode(req.nextToken);
    const matching = [...values]
      .filter(
        ([name, value]) => (!req.name || name === req.name) && (!req.value || value === req.value),
      )
      .filter(([name]) => name > after)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const page = matching.slice(0, limit);
    return {
      settings: page.map(([name, value]) => this.toProto(name, value, principal)),
      nextToken: matching.length > limit ? pageToken.encode(page[page.length - 1][0]) : '',
    };
  }

  /** Every setting's value in effect for the principal, by name. */
  private async effective(principal: string): Promise<Map<string, string>> {
    const rows = await this.settings.ofPrincipals(this.ctx.pool, [principal, this.root]);
    const own = new Map(
      rows.filter((r) => r.principal_arn === principal).map((r) => [r.name, r.value]),
    );
    const account = new Map(
      rows.filter((r) => r.principal_arn === this.root).map((r) => [r.name, r.value]),
    );
    return new Map(
      ACCOUNT_SETTING_NAMES.map((name) => [
        name,
        own.get(name) ?? account.get(name) ?? ACCOUNT_SETTINGS[name].default,
      ]),
    );
  }

  /** The api always names the principal (the caller's, or the root's); '' is the root. */
  private principal(arn: string): string {
    return arn ? validatePrincipalArn(arn, this.ctx.arn.accountId) : this.root;
  }

  private toProto(name: string, value: string, principalArn: string): stateV1.AccountSetting {
    const managed = Object.hasOwn(ACCOUNT_SETTINGS, name) && ACCOUNT_SETTINGS[name].awsManaged;
    return { name, value, principalArn, type: managed ? 'aws_managed' : 'user' };
  }
}
