// Throwaway: build (through the cache) and copy the memory graphs of a fixture model to /tmp/h11.
import { writeFileSync } from 'node:fs';
import { loadSam2Compiled } from '../../src/models/sam2/graphCache.js';
const [which, tag] = [process.argv[2]!, process.argv[3]!];
const dir = '../shared/fixtures/sam2';
const { model } = await loadSam2Compiled({ checkpointPath: `${dir}/${which === 'tiny512' ? 'tiny512_fp16.pt' : 'micro512.pt'}`, configPath: `${dir}/${which}.yaml` });
for (const [k, v] of Object.entries(model.graphs)) if (v) writeFileSync(`/tmp/h11/${which}_${k}_${tag}.onnx`, v);
