/** Nest injection tokens of the api. */
export const API_CONFIG = Symbol('API_CONFIG');
