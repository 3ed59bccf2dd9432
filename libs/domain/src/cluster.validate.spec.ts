import {
  applyClusterConfiguration,
  applyClusterSettings,
  DEFAULT_CLUSTER_SETTINGS,
} from './cluster.validate';
import { InvalidParameterError } from './errors';

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidParameterError) return err.message;
    throw err;
  }
  throw new Error('expected InvalidParameterError');
};

describe('applyClusterSettings', () => {
  it('replaces containerInsights by name with enabled, disabled or enhanced', () => {
    for (const value of ['enabled', 'disabled', 'enhanced']) {
      expect(
        applyClusterSettings(DEFAULT_CLUSTER_SETTINGS, [{ name: 'containerInsights', value }]),
      ).toEqual([{ name: 'containerInsights', value }]);
    }
    expect(applyClusterSettings(DEFAULT_CLUSTER_SETTINGS, [])).toEqual(DEFAULT_CLUSTER_SETTINGS);
  });

  it('names the member it refuses', () => {
    expect(
      refusal(() => applyClusterSettings([], [{ name: 'containerInsights', value: 'on' }])),
    ).toBe(
      "settings[0].value for containerInsights must be one of [enabled, disabled, enhanced]; got 'on'.",
    );
    expect(refusal(() => applyClusterSettings([], [{ name: 'x', value: 'enabled' }]))).toMatch(
      /^settings\[0\]\.name must be one of \[containerInsights\]/,
    );
    expect(refusal(() => applyClusterSettings([], [{ name: 'containerInsights' }]))).toMatch(
      /^settings\[0\]\.value/,
    );
    expect(
      refusal(() =>
        applyClusterSettings(
          [],
          [
            { name: 'containerInsights', value: 'enabled' },
            { name: 'containerInsights', value: 'disabled' },
          ],
        ),
      ),
    ).toBe('settings name containerInsights can be specified only once.');
  });
});

describe('applyClusterConfiguration', () => {
  const override = {
    executeCommandConfiguration: {
      logging: 'OVERRIDE',
      logConfiguration: { cloudWatchLogGroupName: 'exec' },
    },
  };

  it('fills the logConfiguration defaults and keeps parts not given', () => {
    const first = applyClusterConfiguration(undefined, override);
    expect(first).toEqual({
      executeCommandConfiguration: {
        logging: 'OVERRIDE',
        logConfiguration: {
          cloudWatchLogGroupName: 'exec',
          cloudWatchEncryptionEnabled: false,
          s3EncryptionEnabled: false,
        },
      },
    });
    const second = applyClusterConfiguration(first, {
      managedStorageConfiguration: { kmsKeyId: 'k' },
    });
    expect(second).toEqual({ ...first, managedStorageConfiguration: { kmsKeyId: 'k' } });
    expect(applyClusterConfiguration(undefined, {})).toBeUndefined();
  });

  it('refuses what ECS refuses, naming the member', () => {
    expect(
      refusal(() =>
        applyClusterConfiguration(undefined, {
          executeCommandConfiguration: { logging: 'OVERRIDE' },
        }),
      ),
    ).toBe(
      'configuration.executeCommandConfiguration.logConfiguration is required when logging is OVERRIDE.',
    );
    expect(
      refusal(() =>
        applyClusterConfiguration(undefined, {
          executeCommandConfiguration: { logging: 'DEFAULT', logConfiguration: {} },
        }),
      ),
    ).toMatch(/logConfiguration can only be given when logging is OVERRIDE/);
    expect(
      refusal(() =>
        applyClusterConfiguration(undefined, { executeCommandConfiguration: { logging: 'ALL' } }),
      ),
    ).toMatch(/logging must be one of \[NONE, DEFAULT, OVERRIDE\]/);
    expect(refusal(() => applyClusterConfiguration(undefined, { other: {} }))).toBe(
      'configuration.other is not a known member.',
    );
  });
});
