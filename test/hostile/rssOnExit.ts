// Preloaded into the CLI child by hostile.test.ts (node --import): writes the process's peak RSS
// (KiB, from getrusage) to $MEDSAM2_RSS_OUT when it exits, so the test can bound bomb memory.
import { writeFileSync } from 'node:fs';

const out = process.env.MEDSAM2_RSS_OUT;
if (out) process.on('exit', () => writeFileSync(out, String(process.resourceUsage().maxRSS)));
