import { z } from 'zod';

/**
 * How a Loupe process reaches the plant's MQTT broker. The gateway's uplink
 * and `loupe dataset-sink` share these keys, so one broker setup reads the
 * same in both files. Secrets come from the environment
 * (`LOUPE__UPLINK__PASSWORD`, `LOUPE_SINK__PASSWORD`), never from the repo.
 */
const tlsSchema = z.strictObject({
  /** PEM file with the CA(s) that signed the broker's certificate; null trusts the system CAs. Default null. */
  caFile: z.string().min(1).nullable().default(null),
  /** PEM client certificate, for brokers that authenticate clients by certificate (needs keyFile). Default null. */
  certFile: z.string().min(1).nullable().default(null),
  /** PEM private key of certFile. Default null. */
  keyFile: z.string().min(1).nullable().default(null),
  /** Name the broker's certificate must carry, when it differs from the host in brokerUrl. Default null (the host). */
  serverName: z.string().min(1).nullable().default(null),
  /** Refuse a broker whose certificate does not verify; false only on a lab bench. Default true. */
  rejectUnauthorized: z.boolean().default(true),
});

export const brokerConnectionShape = {
  /** Broker address: mqtt://host:1883, or mqtts://host:8883 for TLS. Default mqtt://127.0.0.1:1883. */
  brokerUrl: z
    .string()
    .regex(/^mqtts?:\/\/[^/\s]+$/, 'mqtt://host:port or mqtts://host:port, without a path')
    .default('mqtt://127.0.0.1:1883'),
  /** MQTT 5, or 3.1.1 for older brokers (no PUBACK reason codes, no session expiry). Default 5. */
  protocolVersion: z.union([z.literal(5), z.literal('3.1.1')]).default(5),
  /** MQTT client id, unique per process on the broker. Default null: derived from the gateway or host. */
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'letters, digits and . _ : -, up to 128')
    .nullable()
    .default(null),
  /** Broker user name. Default null (anonymous). */
  username: z.string().min(1).nullable().default(null),
  /** Broker password: set it through the environment, never in a file under version control. Default null. */
  password: z.string().min(1).nullable().default(null),
  /** TLS material, used when brokerUrl is mqtts://. Default: system CAs, no client certificate. */
  tls: tlsSchema.prefault({}),
  /** Ping the broker after this long without traffic; a dead link is noticed after 1.5 times this. Default 30 s. */
  keepaliveS: z.number().int().min(5).max(3600).default(30),
  /** Give up on one connection attempt (TCP, TLS and CONNACK) after this long. Default 10000 ms. */
  connectTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
  /** First wait before reconnecting; doubles per failed attempt. Default 1000 ms. */
  reconnectMinMs: z.number().int().min(100).max(600_000).default(1000),
  /** Longest wait between reconnect attempts. Default 60000 ms. */
  reconnectMaxMs: z.number().int().min(100).max(3_600_000).default(60_000),
  /** Share of each wait that is random, so a plant of gateways does not reconnect in lockstep. Default 0.5. */
  reconnectJitterRatio: z.number().min(0).max(1).default(0.5),
  /**
   * How long the broker keeps this client's session (subscriptions, queued
   * QoS 1 messages) after a disconnect; MQTT 5 only. 0 ends it with the connection.
   * Default 3600 s.
   */
  sessionExpiryS: z.number().int().min(0).max(4_294_967_294).default(3600),
  /** Topics start with `<topicRoot>/v1/`. Default loupe. */
  topicRoot: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'topic levels of letters, digits, _ and -, separated by /')
    .default('loupe'),
};

type ConnectionFields = {
  brokerUrl: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  tls: { caFile: string | null; certFile: string | null; keyFile: string | null };
};

/** Cross-key rules of a broker connection, reported against the key to change. */
export function checkConnection(c: ConnectionFields, ctx: z.RefinementCtx): void {
  if (c.reconnectMinMs > c.reconnectMaxMs) {
    ctx.addIssue({ code: 'custom', path: ['reconnectMinMs'], message: `${c.reconnectMinMs} is above reconnectMaxMs ${c.reconnectMaxMs}, expected reconnectMinMs <= reconnectMaxMs` });
  }
  if ((c.tls.certFile === null) !== (c.tls.keyFile === null)) {
    ctx.addIssue({ code: 'custom', path: ['tls', c.tls.certFile === null ? 'certFile' : 'keyFile'], message: 'a client certificate needs both tls.certFile and tls.keyFile' });
  }
  const usesTlsFiles = c.tls.caFile !== null || c.tls.certFile !== null;
  if (usesTlsFiles && !c.brokerUrl.startsWith('mqtts://')) {
    ctx.addIssue({ code: 'custom', path: ['brokerUrl'], message: `TLS files are set but "${c.brokerUrl}" is plain MQTT, expected mqtts://host:port` });
  }
}

/** Corrections uplink to the plant's MQTT broker (docs/uplink.md). */
export const uplinkSchema = z
  .strictObject({
    /** Publish to a broker at all. Corrections queue in the outbox either way. Default false. */
    enabled: z.boolean().default(false),
    ...brokerConnectionShape,
    /** 1: at least once; 2: exactly once per hop (slower; consumers still dedupe). Default 1. */
    qos: z.union([z.literal(1), z.literal(2)]).default(1),
    /** Most messages published per second, so a backlog drains without starving the line. Default 50 /s. */
    maxMessagesPerS: z.number().min(1).max(10_000).default(50),
    /** Messages sent and not yet acknowledged at once (capped by the broker's receive maximum). Default 16. */
    maxInFlight: z.number().int().min(1).max(1000).default(16),
    /** How an image travels: inline (base64 in the message, up to imageInlineMaxKb) or reference (a URL to this gateway's API). Default inline. */
    imageMode: z.enum(['inline', 'reference']).default('inline'),
    /** Larger images go by reference even in inline mode. Default 512 KB. */
    imageInlineMaxKb: z.number().int().min(1).max(65_536).default(512),
    /** Base URL consumers fetch referenced images from, e.g. http://gw-line3.plant:8080. Default null: the URL the HTTP server listens on. */
    imageBaseUrl: z.url({ protocol: /^https?$/ }).nullable().default(null),
    /** Share of inspections also published as `inspection` messages, 0..1. Default 0 (corrections only). */
    inspectionSampleRate: z.number().min(0).max(1).default(0),
    /** Publish a `metrics` message this often; 0 turns it off. Default 60 s. */
    metricsIntervalS: z.number().int().min(0).max(86_400).default(60),
    /**
     * MQTT 5: keep a message in the outbox when the broker reports that no
     * subscriber matched it (no dataset sink subscribed, or a restarted broker
     * that forgot shared subscriptions), and retry it later. Default true.
     */
    holdWithoutSubscribers: z.boolean().default(true),
    /** Outbox rows before the backlog alarm goes off. Corrections are never dropped; sampled inspections stop being queued. Default 100000. */
    outboxMaxRows: z.number().int().min(10).max(100_000_000).default(100_000),
    /** Age of the oldest queued message before the backlog alarm goes off. Default 168 h (7 days). */
    outboxMaxAgeH: z.number().min(0.01).max(87_600).default(168),
    /** Share of outboxMaxRows or outboxMaxAgeH at which a warning comes first. Default 0.8. */
    outboxWarnRatio: z.number().min(0.1).max(1).default(0.8),
    /** How often an idle publisher looks for new outbox rows (decisions also wake it at once). Default 1000 ms. */
    pollIntervalMs: z.number().int().min(20).max(60_000).default(1000),
  })
  .superRefine(checkConnection);

export type UplinkConfig = z.infer<typeof uplinkSchema>;
/** The broker keys alone, as BrokerLink reads them. */
export type BrokerConnectionConfig = Pick<UplinkConfig, keyof typeof brokerConnectionShape>;

/** `loupe dataset-sink --config FILE`: the receiving end of the corrections uplink (docs/uplink.md). */
export const datasetSinkSchema = z
  .strictObject({
    ...brokerConnectionShape,
    /** Keep queued corrections for a day while the sink is down. Default 86400 s. */
    sessionExpiryS: z.number().int().min(0).max(4_294_967_294).default(86_400),
    /** Shared-subscription group: sinks with the same group split the stream. null subscribes alone. Default loupe-dataset. */
    group: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -')
      .nullable()
      .default('loupe-dataset'),
    /** Site to take corrections from; + for every site. Default +. */
    site: z.string().regex(/^(\+|[A-Za-z0-9_-]+)$/, 'an id or +').default('+'),
    /** Line to take corrections from; + for every line. Default +. */
    line: z.string().regex(/^(\+|[A-Za-z0-9_-]+)$/, 'an id or +').default('+'),
    /** Station to take corrections from; + for every station. Default +. */
    station: z.string().regex(/^(\+|[A-Za-z0-9_-]+)$/, 'an id or +').default('+'),
    /** Folder for received images, the index and the packed dataset; relative to the working directory. Default dataset-sink. */
    outDir: z.string().min(1).default('dataset-sink'),
    /** Model package whose input size and labels the dataset follows. Default null (use widthPx, heightPx, labels). */
    modelPath: z.string().min(1).nullable().default(null),
    /** Class labels in training order, good label first. Default null: the model's, else what arrived. */
    labels: z.array(z.string().regex(/^[A-Za-z0-9_-]+$/)).min(2).nullable().default(null),
    /** Label of a part the operator passed. Default good. */
    goodLabel: z.string().min(1).default('good'),
    /** Packed image width when no model is given. Default 128 px. */
    widthPx: z.number().int().min(8).max(4096).default(128),
    /** Packed image height when no model is given. Default 128 px. */
    heightPx: z.number().int().min(8).max(4096).default(128),
    /** Heat-map grid width the training script expects. Default 16 cells. */
    heatMapWidth: z.number().int().min(1).max(1024).default(16),
    /** Heat-map grid height the training script expects. Default 16 cells. */
    heatMapHeight: z.number().int().min(1).max(1024).default(16),
    /** Share of corrections held out for validation, by a stable hash of the correction id. Default 10 %. */
    valPercent: z.number().int().min(0).max(50).default(10),
    /** Share of corrections held out for testing, by a stable hash of the correction id. Default 10 %. */
    testPercent: z.number().int().min(0).max(50).default(10),
    /** Re-pack the dataset this often when new corrections arrived; 0 packs only on stop. Default 300 s. */
    packIntervalS: z.number().int().min(0).max(86_400).default(300),
    /** Give up one fetch of a referenced image after this long. Default 10000 ms. */
    imageFetchTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
    /** Extra headers for fetching referenced images from gateways (e.g. authorization). Default none. */
    imageFetchHeaders: z.record(z.string(), z.string()).default({}),
  })
  .superRefine(checkConnection);

export type DatasetSinkConfig = z.infer<typeof datasetSinkSchema>;
