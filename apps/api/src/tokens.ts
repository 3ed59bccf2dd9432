/** Nest injection tokens of the api. */
export const API_CONFIG = Symbol('API_CONFIG');
/** The api's state client (`stateV1.StateServiceClient`). */
export const STATE_CLIENT = Symbol('STATE_CLIENT');
/** The api's pino logger. */
export const API_LOGGER = Symbol('API_LOGGER');
/** The api's `Authenticator` (auth/authenticator.ts). */
export const AUTHENTICATOR = Symbol('AUTHENTICATOR');
