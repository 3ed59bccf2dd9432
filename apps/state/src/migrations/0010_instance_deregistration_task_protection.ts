/**
 * ECS task scale-in protection: a task is protected until `protected_until` (NULL = never
 * protected or protection turned off). Expired protection is simply a time in the past, so
 * nothing has to sweep it. DeregisterContainerInstance needs no column: it sets `status` to
 * INACTIVE.
 */
export const instanceDeregistrationTaskProtection = `
ALTER TABLE tasks ADD COLUMN protected_until timestamptz;
`;
