/**
 * Tags on container instances (clusters, task definitions, tasks and services have had a
 * `tags` column from the start), and ECS account settings: one row per principal and setting
 * name; the account default is the row of the root principal (`arn:aws:iam::<account>:root`),
 * as in ECS, where PutAccountSettingDefault sets the root user's setting.
 */
export const tagsAccountSettings = `
ALTER TABLE container_instances ADD COLUMN tags jsonb NOT NULL DEFAULT '[]';

CREATE TABLE account_settings (
  principal_arn  text NOT NULL,
  name           text NOT NULL,
  value          text NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal_arn, name)
);
`;
