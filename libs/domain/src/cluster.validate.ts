import { InvalidParameterError } from './errors';

/** ECS ClusterSetting. The model's only name is `containerInsights`. */
export interface ClusterSetting {
  name: string;
  value: string;
}

export interface ExecuteCommandLogConfiguration {
  cloudWatchLogGroupName?: string;
  cloudWatchEncryptionEnabled?: boolean;
  s3BucketName?: string;
  s3EncryptionEnabled?: boolean;
  s3KeyPrefix?: string;
}

/** ECS ClusterConfiguration: kept and returned; Wharf has no ECS Exec or managed storage. */
export interface ClusterConfiguration {
  executeCommandConfiguration?: {
    kmsKeyId?: string;
    logging?: 'NONE' | 'DEFAULT' | 'OVERRIDE';
    logConfiguration?: ExecuteCommandLogConfiguration;
  };
  managedStorageConfiguration?: {
    kmsKeyId?: string;
    fargateEphemeralStorageKmsKeyId?: string;
  };
}

export const CLUSTER_SETTING_NAMES = ['containerInsights'] as const;
/** `enhanced` is the value ECS added after `enabled`/`disabled` (Container Insights with enhanced observability). */
export const CONTAINER_INSIGHTS_VALUES = ['enabled', 'disabled', 'enhanced'] as const;
export const EXECUTE_COMMAND_LOGGING = ['NONE', 'DEFAULT', 'OVERRIDE'] as const;

/** What a cluster has when nothing was set, as ECS reports it. */
export const DEFAULT_CLUSTER_SETTINGS: ClusterSetting[] = [
  { name: 'containerInsights', value: 'disabled' },
];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(obj: Json, key: string, path: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidParameterError(`${path}.${key} must be a string.`);
  return v;
}

function optionalBoolean(obj: Json, key: string, path: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidParameterError(`${path}.${key} must be a boolean.`);
  return v;
}

function onlyKnown(obj: Json, known: readonly string[], path: string): void {
  const unknown = Object.keys(obj).find((k) => !known.includes(k));
  if (unknown) throw new InvalidParameterError(`${path}.${unknown} is not a known member.`);
}

const dropUndefined = <T extends Json>(obj: T): T =>
  Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;

/**
 * Checks ECS ClusterSettings and lays them over `current` by name (a name given once more
 * replaces its value). Every setting needs a known name and a value it allows; a name twice in
 * one request is refused.
 */
export function applyClusterSettings(current: ClusterSetting[], given: unknown): ClusterSetting[] {
  if (!Array.isArray(given)) throw new InvalidParameterError('settings must be a list.');
  const seen = new Set<string>();
  const next = new Map(current.map((s) => [s.name, s.value]));
  given.forEach((s, i) => {
    const path = `settings[${i}]`;
    if (!isObject(s)) throw new InvalidParameterError(`${path} must be a structure.`);
    onlyKnown(s, ['name', 'value'], path);
    const name = optionalString(s, 'name', path);
    const value = optionalString(s, 'value', path);
    if (!name || !(CLUSTER_SETTING_NAMES as readonly string[]).includes(name)) {
      throw new InvalidParameterError(
        `${path}.name must be one of [${CLUSTER_SETTING_NAMES.join(', ')}].`,
      );
    }
    if (seen.has(name)) {
      throw new InvalidParameterError(`settings name ${name} can be specified only once.`);
    }
    seen.add(name);
    if (!value || !(CONTAINER_INSIGHTS_VALUES as readonly string[]).includes(value)) {
      throw new InvalidParameterError(
        `${path}.value for ${name} must be one of [${CONTAINER_INSIGHTS_VALUES.join(', ')}]; got '${value ?? ''}'.`,
      );
    }
    next.set(name, value);
  });
  return [...next].map(([name, value]) => ({ name, value }));
}

function executeCommandConfiguration(
  v: unknown,
): ClusterConfiguration['executeCommandConfiguration'] {
  const path = 'configuration.executeCommandConfiguration';
  if (!isObject(v)) throw new InvalidParameterError(`${path} must be a structure.`);
  onlyKnown(v, ['kmsKeyId', 'logging', 'logConfiguration'], path);
  const logging = optionalString(v, 'logging', path);
  if (logging !== undefined && !(EXECUTE_COMMAND_LOGGING as readonly string[]).includes(logging)) {
    throw new InvalidParameterError(
      `${path}.logging must be one of [${EXECUTE_COMMAND_LOGGING.join(', ')}]; got '${logging}'.`,
    );
  }
  let logConfiguration: ExecuteCommandLogConfiguration | undefined;
  if (v.logConfiguration !== undefined && v.logConfiguration !== null) {
    const lp = `${path}.logConfiguration`;
    const lc = v.logConfiguration;
    if (!isObject(lc)) throw new InvalidParameterError(`${lp} must be a structure.`);
    onlyKnown(
      lc,
      [
        'cloudWatchLogGroupName',
        'cloudWatchEncryptionEnabled',
        's3BucketName',
        's3EncryptionEnabled',
        's3KeyPrefix',
      ],
      lp,
    );
    logConfiguration = dropUndefined({
      cloudWatchLogGroupName: optionalString(lc, 'cloudWatchLogGroupName', lp),
      cloudWatchEncryptionEnabled: optionalBoolean(lc, 'cloudWatchEncryptionEnabled', lp) ?? false,
      s3BucketName: optionalString(lc, 's3BucketName', lp),
      s3EncryptionEnabled: optionalBoolean(lc, 's3EncryptionEnabled', lp) ?? false,
      s3KeyPrefix: optionalString(lc, 's3KeyPrefix', lp),
    });
    if (logConfiguration.s3KeyPrefix !== undefined && !logConfiguration.s3BucketName) {
      throw new InvalidParameterError(`${lp}.s3KeyPrefix requires ${lp}.s3BucketName.`);
    }
  }
  if (logging === 'OVERRIDE' && !logConfiguration) {
    throw new InvalidParameterError(
      `${path}.logConfiguration is required when logging is OVERRIDE.`,
    );
  }
  if (logging !== 'OVERRIDE' && logConfiguration) {
    throw new InvalidParameterError(
      `${path}.logConfiguration can only be given when logging is OVERRIDE.`,
    );
  }
  return dropUndefined({
    kmsKeyId: optionalString(v, 'kmsKeyId', path),
    logging: logging as 'NONE' | 'DEFAULT' | 'OVERRIDE' | undefined,
    logConfiguration,
  });
}

function managedStorageConfiguration(
  v: unknown,
): ClusterConfiguration['managedStorageConfiguration'] {
  const path = 'configuration.managedStorageConfiguration';
  if (!isObject(v)) throw new InvalidParameterError(`${path} must be a structure.`);
  onlyKnown(v, ['kmsKeyId', 'fargateEphemeralStorageKmsKeyId'], path);
  return dropUndefined({
    kmsKeyId: optionalString(v, 'kmsKeyId', path),
    fargateEphemeralStorageKmsKeyId: optionalString(v, 'fargateEphemeralStorageKmsKeyId', path),
  });
}

/**
 * Checks an ECS ClusterConfiguration and lays it over `current`: each part given
 * (executeCommandConfiguration, managedStorageConfiguration) replaces the stored part whole;
 * a part not given is kept. Returns undefined when nothing is configured.
 */
export function applyClusterConfiguration(
  current: ClusterConfiguration | undefined,
  given: unknown,
): ClusterConfiguration | undefined {
  if (!isObject(given)) throw new InvalidParameterError('configuration must be a structure.');
  onlyKnown(given, ['executeCommandConfiguration', 'managedStorageConfiguration'], 'configuration');
  const next: ClusterConfiguration = { ...(current ?? {}) };
  if (given.executeCommandConfiguration != null) {
    next.executeCommandConfiguration = executeCommandConfiguration(
      given.executeCommandConfiguration,
    );
  }
  if (given.managedStorageConfiguration != null) {
    next.managedStorageConfiguration = managedStorageConfiguration(
      given.managedStorageConfiguration,
    );
  }
  return Object.keys(next).length ? next : undefined;
}
