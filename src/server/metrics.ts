import { AsyncLocalStorage } from 'node:async_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { setOrtRunObserver } from '../engine/ortRunObserver.js';

/**
 * Which server and model an ORT run belongs to: entered around each queued task (WorkQueue), read
 * by the one process-wide ORT run observer, so each server's /metrics counts its own runs even
 * when several servers share a process (tests).
 */
const ortContext = new AsyncLocalStorage<{ metrics: ServerMetrics; model: string }>();
setOrtRunObserver((module, seconds) => {
  const c = ortContext.getStore();
  c?.metrics.ortRun.observe({ model: c.model, module }, seconds);
});

/** Prometheus metrics of one server instance (its own registry, so several servers can share a process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'medsam2_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly modelRun = new Histogram({
    name: 'medsam2_model_operation_seconds',
    help: 'Time of model work per operation (prompt = encoder+decoder for one slice; propagate; job), including queueing',
    labelNames: ['model', 'operation'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly ortRun = new Histogram({
    name: 'medsam2_ort_run_seconds',
    help: 'ONNX Runtime session.run time by model and module (image_encoder, prompt_mask_decoder, memory_attention, memory_encoder, …)',
    labelNames: ['model', 'module'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly sessionsLive = new Gauge({ name: 'medsam2_sessions_live', help: 'Sessions held in memory', registers: [this.registry] });
  readonly queueDepth = new Gauge({
    name: 'medsam2_queue_depth',
    help: 'Tasks waiting or running per model lane',
    labelNames: ['model', 'lane'] as const,
    registers: [this.registry],
  });
  readonly jobs = new Counter({
    name: 'medsam2_jobs_total',
    help: 'Batch jobs by final status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly recoveries = new Counter({
    name: 'medsam2_session_restores_total',
    help: 'Sessions rebuilt from their stored history',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'medsam2_' });
  }

  /** Runs `fn` with its ORT runs counted under `model` in this server's ortRun histogram. */
  attributeOrt<T>(model: string, fn: () => Promise<T>): Promise<T> {
    return ortContext.run({ metrics: this, model }, fn);
  }
}
