export { Session } from './session.js';
export { ModelPool, type ModelPoolOptions } from './modelPool.js';
export { interactionFromJson, interactionToJson } from './interactionJson.js';
export { applyStroke } from './brushStroke.js';
export { PropagationCancelled } from '../families/cancelled.js';
export type * from './types.js';
