// Propagation-rule experiments over every shared dataset through the real evaluation pipeline
// (embeddings cached in /tmp/acc/emb). PROP='{"...":...}' sets Sam1PropagationOptions, CLICKS=K,
// SETS=ct-lesion,organs-tune,... picks datasets. Prints one summary line per dataset.
// Usage: PROP='{}' node --import tsx scripts/accuracy/evalAccuracy.ts <tag>
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';
import { evaluateFolder } from '../../src/pipelines/evaluate.js';

setPlatform(nodePlatform);

const tag = process.argv[2] ?? 'exp';
const propagation = process.env.PROP ? JSON.parse(process.env.PROP) : {};
const clicks = Number(process.env.CLICKS ?? 0);
const sets: Record<string, string> = {
  'ct-lesion': '../shared/data/ct-lesion',
  'organs-tune': 'bench/accuracy/organs-tune.json',
  'organs-heldout': 'bench/accuracy/organs-heldout.json',
  mr: 'bench/accuracy/mr.json',
  'organs-clicks': 'bench/accuracy/organs-clicks.json',
  // A second held-back set (session 15): every other ct-organs / ct-series label, used only to check a rule chosen elsewhere.
  'organs-check': 'bench/accuracy/organs-check.json',
};
const chosen = process.env.SETS ? process.env.SETS.split(',') : Object.keys(sets);
for (const name of chosen) {
  const r = await evaluateFolder(sets[name]!, {
    outDir: `/tmp/acc/exp/${tag}/${name}`,
    threads: 2,
    embeddingCacheDir: '/tmp/acc/emb',
    propagation,
    clicks,
    previewsDir: process.env.PREVIEWS ? `/tmp/acc/exp/${tag}/${name}/previews` : undefined,
  });
  const m = r.mean;
  const rows = r.cases.map((c) => `${c.label ?? ''}:${c.dsc.toFixed(2)}${c.overshoot ? `+${c.overshoot}` : ''}`).join(' ');
  console.log(
    `${tag.padEnd(14)} ${name.padEnd(15)} DSC ${m.dsc.toFixed(4)} NSD ${m.nsd.toFixed(4)} |ext| ${m.extentError?.toFixed(2)} maxOver ${m.maxOvershoot} >2: ${m.overshootOver2}` +
      (m.dscAfterClicks
        ? ` clicks ${m.dscAfterClicks.map((d) => d.toFixed(3)).join(' ')} noc85 ${m.noc85?.toFixed(2)} noc90 ${m.noc90?.toFixed(2)}`
        : '') +
      `  [${rows}]`,
  );
}
