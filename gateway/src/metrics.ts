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

  // uplink
  readonly uplinkConnected = new Gauge({
    name: 'loupe_uplink_connected',
    help: '1 while the uplink holds a connection to the MQTT broker.',
    registers: [this.registry],
  });

  readonly uplinkBacklog = new Gauge({
    name: 'loupe_uplink_backlog_messages',
    help: 'Messages in the outbox waiting for the broker.',
    registers: [this.registry],
  });

  readonly uplinkOldestAge = new Gauge({
    name: 'loupe_uplink_backlog_oldest_seconds',
    help: 'Age of the oldest message in the outbox (0 when empty).',
    registers: [this.registry],
  });

  readonly uplinkAlarm = new Gauge({
    name: 'loupe_uplink_outbox_alarm',
    help: 'Outbox budget alarm: 0 ok, 1 warning, 2 over budget.',
    registers: [this.registry],
  });

  readonly uplinkPublished = new Counter({
    name: 'loupe_uplink_published_total',
    help: 'Messages the broker acknowledged, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly uplinkAckSeconds = new Histogram({
    name: 'loupe_uplink_ack_seconds',
    help: 'Time from publish to the broker acknowledgement.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  readonly uplinkErrors = new Counter({
    name: 'loupe_uplink_errors_total',
    help: 'Uplink failures by error code (connection attempts, refused messages).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly uplinkSamplesSkipped = new Counter({
    name: 'loupe_uplink_samples_skipped_total',
    help: 'Sampled inspections not queued because the outbox is over budget.',
    registers: [this.registry],
  });

  readonly plcResults = new Counter({
    name: 'loupe_plc_results_total',
    help: 'Results written to the PLC, by station and verdict (pass, fail, hold, no-result, overrun, final-pass, final-fail).',
    labelNames: ['station', 'verdict'] as const,
    registers: [this.registry],
  });

  readonly plcResultSeconds = new Histogram({
    name: 'loupe_plc_result_seconds',
    help: 'Trigger latched to result written to the PLC.',
    labelNames: ['station'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly plcMissedTriggers = new Counter({
    name: 'loupe_plc_missed_triggers_total',
    help: 'Parts the PLC triggered that Loupe never latched (TriggerSeq jumps, link down), as in MissedCount.',
    labelNames: ['station'] as const,
    registers: [this.registry],
  });

  readonly plcOverruns = new Counter({
    name: 'loupe_plc_overruns_total',
    help: 'Results or final verdicts dropped because the PLC did not acknowledge in time.',
    labelNames: ['station', 'channel'] as const,
    registers: [this.registry],
  });

  readonly plcLinkUp = new Gauge({
    name: 'loupe_plc_link_up',
    help: '1 while the OPC UA session to the PLC is up.',
    registers: [this.registry],
  });

  // model registry and shadow runs
  readonly modelPackages = new Counter({
    name: 'loupe_model_packages_total',
    help: 'Model packages offered to the registry, by source (api, mqtt) and outcome (registered, refused, conflict).',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly modelSwitches = new Counter({
    name: 'loupe_model_switches_total',
    help: 'Model changes on a station by action (promote, rollback).',
    labelNames: ['station', 'action'] as const,
    registers: [this.registry],
  });

  readonly modelActive = new Gauge({
    name: 'loupe_model_active',
    help: '1 for the model a station runs (source registry or config), 0 for models it ran before.',
    labelNames: ['station', 'model', 'version', 'source'] as const,
    registers: [this.registry],
  });

  readonly shadowParts = new Counter({
    name: 'loupe_shadow_parts_total',
    help: 'Parts seen by a shadow run, by outcome (compared, skipped-busy, skipped-behind, failed).',
    labelNames: ['station', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly shadowInferSeconds = new Histogram({
    name: 'loupe_shadow_infer_seconds',
    help: 'Candidate model time per part in shadow (decode, preprocess, inference).',
    labelNames: ['station'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly modelDeliveries = new Counter({
    name: 'loupe_model_deliveries_total',
    help: 'Model packages received over MQTT, by transfer (inline, chunked, reference) and outcome (registered, refused).',
    labelNames: ['transfer', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'loupe_' });
  }
}
