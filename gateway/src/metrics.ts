import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus series the gateway exports, built once by the composition
 * root and handed to the parts that count. The hot path counts here instead of logging.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly parts = new Counter({
    name: 'loupe_parts_total',
    help: 'Parts inspected, by station and first verdict (pass, fail, review, error).',
    labelNames: ['station', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly frameErrors = new Counter({
    name: 'loupe_frame_errors_total',
    help: 'Parts that produced no result, by station and error code.',
    labelNames: ['station', 'code'] as const,
    registers: [this.registry],
  });

  readonly missedTriggers = new Counter({
    name: 'loupe_missed_triggers_total',
    help: 'Triggers dropped because the station queue was full.',
    labelNames: ['station'] as const,
    registers: [this.registry],
  });

  readonly stageSeconds = new Histogram({
    name: 'loupe_stage_seconds',
    help: 'Time per pipeline stage.',
    labelNames: ['station', 'stage'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly reviewBacklog = new Gauge({
    name: 'loupe_review_backlog',
    help: 'Parts waiting for an operator.',
    labelNames: ['station'] as const,
    registers: [this.registry],
  });

  readonly reviews = new Counter({
    name: 'loupe_reviews_total',
    help: 'Reviews settled, by station and outcome (confirmed, overridden, timed-out).',
    labelNames: ['station', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly imagesPruned = new Counter({
    name: 'loupe_images_pruned_total',
    help: 'Images deleted by retention.',
    registers: [this.registry],
  });

  readonly imagesSkipped = new Counter({
    name: 'loupe_images_skipped_total',
    help: 'Inspections recorded without their image (disk full or write error).',
    labelNames: ['station'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'loupe_' });
  }
}
