/**
 * `npm run parity [-- --micro-only] [--case <substring>] [--threads N] [--no-cache] [--precision int8] [--trace]`
 *
 * Replays every SAM2 fixture case (all manifests found by listFixtureCases, env
 * MEDSAM2_SAM2_FIXTURES, default ../shared/fixtures/sam2) through the TypeScript video predictor
 * and prints a table of worst errors per case. Exits 1 when any case fails, 2 when there is nothing
 * to check. Compiled graphs go through the on-disk graph cache unless --no-cache. `--precision int8`
 * replays the fast mode's graphs: they are not exact, so its table is the measured deviation (cases
 * "fail" the fp32 bounds by design). `--trace` also lists every output's video-mask deviation and
 * best-IoU error in replay order (where a deviation starts).
 */
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { listFixtureCases, fixtureDir } from '../test/helpers/sam2Fixtures.js';
import { parsePrecision, type Precision } from '../src/models/precision.js';
import { formatReport, runParityCase } from './sam2ParityHarness.js';

// An entry point: the core runs on the Node platform.
setPlatform(nodePlatform);

function usage(): never {
  console.error(
    'usage: npm run parity -- [--micro-only] [--case <substring>] [--threads N] [--no-cache] [--cache-dir DIR] [--precision fp32|int8] [--trace]',
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let microOnly = false;
  let filter: string | undefined;
  let threads = 2;
  let cache = true;
  let cacheDir: string | undefined;
  let precision: Precision = 'fp32';
  let trace = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--micro-only') microOnly = true;
    else if (a === '--case') filter = argv[++i] ?? usage();
    else if (a === '--threads') threads = Number(argv[++i] ?? usage());
    else if (a === '--no-cache') cache = false;
    else if (a === '--cache-dir') cacheDir = argv[++i] ?? usage();
    else if (a === '--precision') precision = parsePrecision(argv[++i] ?? usage());
    else if (a === '--trace') trace = true;
    else usage();
  }
  const cases = listFixtureCases((c) => (!microOnly || c.id.startsWith('micro')) && (!filter || c.id.includes(filter)));
  if (cases.length === 0) {
    console.error(`no SAM2 fixture cases found in ${fixtureDir()}${filter ? ` matching '${filter}'` : ''}`);
    process.exit(2);
  }
  let failed = 0;
  const t0 = performance.now();
  for (const c of cases) {
    try {
      const r = await runParityCase(c, {
        threads,
        graphCache: cache,
        cacheDir,
        precision,
        trace,
        log: (m) => console.log(`  (${m})`),
      });
      console.log(formatReport(r));
      if (r.trace) console.log(formatTrace(r.trace));
      if (!r.ok) failed++;
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.id}: ${(e as Error).message}`);
    }
  }
  console.log(`\n${cases.length - failed}/${cases.length} cases pass (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  process.exit(failed ? 1 : 0);
}

/** One line per output: video-mask pixels differing (%) and the best-IoU error, in replay order. */
function formatTrace(trace: NonNullable<Awaited<ReturnType<typeof runParityCase>>['trace']>): string {
  const rows = new Map<string, string[]>();
  for (const t of trace) {
    const where = t.where.replace(/ obj \d+$/, '');
    if (t.quantity.startsWith('video mask'))
      (rows.get(where) ?? rows.set(where, []).get(where)!).push(`mask ${(100 * t.err).toFixed(3)} %`);
    else if (t.quantity === 'best IoU') (rows.get(where) ?? rows.set(where, []).get(where)!).push(`IoU err ${t.err.toExponential(1)}`);
  }
  return [...rows].map(([w, v]) => `    ${w}: ${v.join(', ')}`).join('\n');
}

void main();
