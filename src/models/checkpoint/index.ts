export { loadCheckpoint, parseCheckpoint, type Checkpoint } from './loadCheckpoint.js';
export { checkKeys, totalElements } from './checkKeys.js';
export { readSafetensors, encodeSafetensors } from './safetensors.js';
export { readTorchZip, type StateDict } from './torchZip.js';
export { unpickle } from './unpickler.js';
