import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
}
