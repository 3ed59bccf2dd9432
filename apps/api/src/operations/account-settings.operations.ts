import {
  accountSettingRule,
  rootPrincipalArn,
  userPrincipalArn,
  validateAccountSetting,
  validatePrincipalArn,
} from '@wharf/domain';
import { toEcsSetting } from '../protocol/shapes';
import {
  call,
  checkMaxResults,
  invalidParameter,
  Json,
  OperationContext,
  OperationHandler,
  str,
} from './operation-context';

/*
 * Account settings, kept by state per principal. The principal is `principalArn` when given,
 * else the caller: an access key's holder is `arn:aws:iam::<account>:user/<access key id>`
 * (Wharf has no IAM users; the key id is what names the caller), an unknown caller the root
 * user. The root user's setting is the account default (PutAccountSettingDefault sets it).
 */

/** IAM user names: up to 64 of letters, digits and `+=,.@_-`. */
const IAM_USER_NAME = /^[\w+=,.@-]{1,64}$/;

export function callerPrincipalArn(
  ctx: Pick<OperationContext, 'principal' | 'arnContext'>,
): string {
  const raw = ctx.principal ?? '';
  const id = raw.startsWith('dev:') ? raw.slice('dev:'.length) : raw;
  const account = ctx.arnContext.accountId;
  if (!id || id === 'anonymous' || !IAM_USER_NAME.test(id)) return rootPrincipalArn(account);
  return userPrincipalArn(account, id);
}

function principalOf(input: Json, ctx: OperationContext): string {
  const given = str(input.principalArn);
  return given ? validatePrincipalArn(given, ctx.arnContext.accountId) : callerPrincipalArn(ctx);
}

export const putAccountSetting: OperationHandler = async (input, ctx) => {
  const principalArn = principalOf(input, ctx);
  const name = str(input.name);
  const value = str(input.value);
  validateAccountSetting(name, value, {
    isRoot: principalArn === rootPrincipalArn(ctx.arnContext.accountId),
    accountDefault: false,
  });
  const setting = await call(
    'state',
    ctx.state.putAccountSetting({ name, value, principalArn, accountDefault: false }),
  );
  return { setting: toEcsSetting(setting) };
};

export const putAccountSettingDefault: OperationHandler = async (input, ctx) => {
  const name = str(input.name);
  const value = str(input.value);
  validateAccountSetting(name, value, { isRoot: true, accountDefault: true });
  const setting = await call(
    'state',
    ctx.state.putAccountSetting({
      name,
      value,
      principalArn: rootPrincipalArn(ctx.arnContext.accountId),
      accountDefault: true,
    }),
  );
  return { setting: toEcsSetting(setting) };
};

export const deleteAccountSetting: OperationHandler = async (input, ctx) => {
  const principalArn = principalOf(input, ctx);
  const name = str(input.name);
  accountSettingRule(name);
  const setting = await call('state', ctx.state.deleteAccountSetting({ name, principalArn }));
  return { setting: toEcsSetting(setting) };
};

export const listAccountSettings: OperationHandler = async (input, ctx) => {
  const principalArn = principalOf(input, ctx);
  const name = str(input.name);
  const value = str(input.value);
  if (value && !name) {
    throw invalidParameter('value: a value can only be given with a setting name.');
  }
  const res = await call(
    'state',
    ctx.state.listAccountSettings({
      principalArn,
      name,
      value,
      effectiveSettings: input.effectiveSettings === true,
      // The model gives maxResults a default of 0: a client may send it, meaning "not given".
      maxResults: input.maxResults === 0 ? 0 : checkMaxResults(input.maxResults, 10),
      nextToken: str(input.nextToken),
    }),
  );
  return {
    settings: res.settings.map(toEcsSetting),
    ...(res.nextToken ? { nextToken: res.nextToken } : {}),
  };
};
