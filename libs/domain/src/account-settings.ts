import { InvalidParameterError } from './errors';

/**
 * ECS account settings (the SettingName enum) with the values each takes and the default ECS
 * documents for an account that set nothing. Wharf stores and answers every one of them; none
 * changes what Wharf does (its ARNs are always in the long format, it has no awsvpc trunking,
 * Container Insights, Fargate or GuardDuty).
 */
export interface AccountSettingRule {
  values: readonly string[];
  default: string;
  /** Only the account default (the root principal) may have it (ECS). */
  rootOnly?: boolean;
  /** Only PutAccountSettingDefault may set it (ECS: fargateFIPSMode). */
  defaultOnly?: boolean;
  /** Read-only: AWS manages it (type aws_managed). */
  awsManaged?: boolean;
}

const ENABLED_DISABLED = ['enabled', 'disabled'] as const;

export const ACCOUNT_SETTINGS: Readonly<Record<string, AccountSettingRule>> = {
  awsvpcTrunking: { values: ENABLED_DISABLED, default: 'disabled' },
  containerInsights: { values: ['enabled', 'disabled', 'enhanced'], default: 'disabled' },
  containerInstanceLongArnFormat: { values: ENABLED_DISABLED, default: 'enabled' },
  fargateFIPSMode: { values: ENABLED_DISABLED, default: 'disabled', defaultOnly: true },
  fargateTaskRetirementWaitPeriod: { values: ['0', '7', '14'], default: '7', rootOnly: true },
  guardDutyActivate: { values: ENABLED_DISABLED, default: 'disabled', awsManaged: true },
  serviceLongArnFormat: { values: ENABLED_DISABLED, default: 'enabled' },
  tagResourceAuthorization: { values: ['on', 'off'], default: 'on' },
  taskLongArnFormat: { values: ENABLED_DISABLED, default: 'enabled' },
};

/** Every setting name, in the order lists answer them (by name). */
export const ACCOUNT_SETTING_NAMES = Object.keys(ACCOUNT_SETTINGS).sort();

export const rootPrincipalArn = (accountId: string) => `arn:aws:iam::${accountId}:root`;

/** The IAM ARN Wharf gives an access key's holder: `arn:aws:iam::<account>:user/<name>`. */
export const userPrincipalArn = (accountId: string, name: string) =>
  `arn:aws:iam::${accountId}:user/${name}`;

/** The rule of a setting name; an unknown one is refused, naming `member`. */
export function accountSettingRule(name: string, member = 'name'): AccountSettingRule {
  const rule = Object.hasOwn(ACCOUNT_SETTINGS, name) ? ACCOUNT_SETTINGS[name] : undefined;
  if (!rule) {
    throw new InvalidParameterError(
      `${member}: '${name}' is not an account setting; expected one of [${ACCOUNT_SETTING_NAMES.join(', ')}].`,
    );
  }
  return rule;
}

/**
 * What PutAccountSetting(Default) may store: a known, writable name, a value the setting
 * takes, and a principal allowed to hold it.
 */
export function validateAccountSetting(
  name: string,
  value: string,
  opts: { isRoot: boolean; accountDefault: boolean },
): void {
  const rule = accountSettingRule(name);
  if (rule.awsManaged) {
    throw new InvalidParameterError(
      `name: ${name} is read-only; it is managed by AWS (type aws_managed).`,
    );
  }
  if (!rule.values.includes(value)) {
    throw new InvalidParameterError(
      `value: '${value}' is not valid for ${name}; expected one of [${rule.values.join(', ')}].`,
    );
  }
  if (rule.defaultOnly && !opts.accountDefault) {
    throw new InvalidParameterError(`name: ${name} can only be set with PutAccountSettingDefault.`);
  }
  if (rule.rootOnly && !opts.isRoot) {
    throw new InvalidParameterError(
      `principalArn: ${name} can only be set for the root user (the account default).`,
    );
  }
}

/**
 * A principal ARN of this account: its root user, an IAM user or an IAM role. Returned as
 * given; anything else is refused naming `principalArn`.
 */
export function validatePrincipalArn(arn: string, accountId: string): string {
  const m = /^arn:aws:iam::(\d{12}):(root|user\/[\w+=,.@/-]{1,512}|role\/[\w+=,.@/-]{1,512})$/.exec(
    arn,
  );
  if (!m) {
    throw new InvalidParameterError(
      `principalArn: '${arn}' is not the ARN of a user, a role or the root user.`,
    );
  }
  if (m[1] !== accountId) {
    throw new InvalidParameterError(
      `principalArn: '${arn}' belongs to account ${m[1]}, not to this account (${accountId}).`,
    );
  }
  return arn;
}
