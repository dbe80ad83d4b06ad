import { z } from 'zod';

/**
 * PLC link over OPC UA: Loupe as a client of the PLC's OPC UA server (the
 * handshake), Loupe's own OPC UA server for PLCs, SCADA and MES, and a
 * simulated PLC for the demo and the tests. docs/plc.md explains every key.
 */

/** `opc.tcp://host:port[/path]`, the only transport PLCs speak. */
const endpointUrl = z.string().regex(/^opc\.tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}(\/.*)?$/, 'opc.tcp://host:port, e.g. opc.tcp://192.168.0.10:4840');

/** Message security: None (plain), Sign, SignAndEncrypt. */
const securityMode = z.enum(['None', 'Sign', 'SignAndEncrypt']);
/** Policies of the current OPC UA specification; the deprecated Basic128Rsa15 and Basic256 are not offered. */
const securityPolicy = z.enum(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']);

/** Tags of one interface block, by name; docs/plc.md has the table with directions and types. */
export const PLC_TAG_NAMES = [
  // PLC -> Loupe
  'Enable',
  'TriggerSeq',
  'PartId',
  'RecipeId',
  'ResultAckSeq',
  'FinalAckSeq',
  'PlcHeartbeat',
  // Loupe -> PLC
  'Ready',
  'TriggerAck',
  'Busy',
  'ResultSeq',
  'ResultPartId',
  'Verdict',
  'ResultState',
  'IsPartial',
  'ProcessingMs',
  'FinalSeq',
  'FinalPartId',
  'FinalVerdict',
  'MissedCount',
  'Overrun',
  'ErrorCode',
  'LoupeHeartbeat',
] as const;
export type PlcTagName = (typeof PLC_TAG_NAMES)[number];

/** Tags a PLC programmer may leave out (set to null); the handshake works without them. */
export const OPTIONAL_PLC_TAGS = ['RecipeId', 'Busy', 'ResultState', 'ProcessingMs', 'ErrorCode'] as const satisfies readonly PlcTagName[];

const nodeId = z.string().regex(/^(ns=\d+;)?[isgb]=.+$/, 'an OPC UA node id such as ns=3;s="LoupeIF"."TriggerSeq" or ns=4;i=1021');

const tagOverrides = z
  .strictObject(Object.fromEntries(PLC_TAG_NAMES.map((t) => [t, nodeId.nullable().optional()])) as Record<PlcTagName, z.ZodOptional<z.ZodNullable<typeof nodeId>>>)
  .superRefine((tags, ctx) => {
    for (const [name, id] of Object.entries(tags)) {
      if (id === null && !(OPTIONAL_PLC_TAGS as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `the handshake needs ${name}, expected a node id (only ${OPTIONAL_PLC_TAGS.join(', ')} may be null)` });
      }
    }
  })
  .default({});

const recipe = z.strictObject({
  /** Model package folder for this product; relative paths resolve against the working directory. Default: the station's model. */
  modelPath: z.string().min(1).optional(),
  /** Defect score below this passes. Default: the station's policy, else the model's own. */
  passBelow: z.number().min(0).max(1).optional(),
  /** Defect score at or above this fails. Default: the station's policy, else the model's own. */
  failAtOrAbove: z.number().min(0).max(1).optional(),
});

const block = z
  .strictObject({
    /** Station this block triggers. Default: the only station whose trigger type is plc. */
    station: z.string().optional(),
    /** Node id of every tag: `{tag}` is replaced by the tag name. Default ns=1;s=LoupeIF.{tag} (the simulator's). */
    nodeIdTemplate: z
      .string()
      .regex(/\{tag\}/, 'a node id template containing {tag}, e.g. ns=3;s="LoupeIF"."{tag}"')
      .default('ns=1;s=LoupeIF.{tag}'),
    /** Namespace URI whose index replaces `ns=` at each connect (indexes can change when the PLC program is reloaded). Default: use the ns= index as written. */
    namespaceUri: z.string().min(1).optional(),
    /** Node id per tag where it does not follow the template; null leaves out an optional tag. Default {}. */
    tags: tagOverrides,
    /** Product recipes by the value the PLC writes to RecipeId; 0 or "" selects the station's own model. Default {} (RecipeId ignored). */
    recipes: z.record(z.string().min(1), recipe).default({}),
  })
  .refine((b) => b.recipes['0'] === undefined, { path: ['recipes', '0'], message: 'recipe 0 is the station\'s own model, expected another id' });

const reconnect = z
  .strictObject({
    /** First wait after a failed connect; doubles per failure. Default 500 ms. */
    minDelayMs: z.number().int().min(50).max(60_000).default(500),
    /** Longest wait between connect attempts. Default 10000 ms. */
    maxDelayMs: z.number().int().min(100).max(600_000).default(10_000),
    /** A lost session the OPC UA stack has not restored within this time is closed and built anew. Default 15000 ms. */
    repairTimeoutMs: z.number().int().min(1000).max(600_000).default(15_000),
  })
  .refine((r) => r.maxDelayMs >= r.minDelayMs, { path: ['maxDelayMs'], message: 'expected maxDelayMs >= minDelayMs' });

const client = z
  .strictObject({
    /** Run the handshake with the PLC's OPC UA server. Default false. */
    enabled: z.boolean().default(false),
    /** The PLC's OPC UA endpoint (ignored while plc.simulator is enabled: Loupe then talks to the simulator). Default opc.tcp://127.0.0.1:4840. */
    endpoint: endpointUrl.default('opc.tcp://127.0.0.1:4840'),
    /** Message security: None only on an isolated network. Default SignAndEncrypt. */
    securityMode: securityMode.default('SignAndEncrypt'),
    /** Security policy for Sign and SignAndEncrypt (ignored for None). Default Basic256Sha256. */
    securityPolicy: securityPolicy.default('Basic256Sha256'),
    /** PKI folder (own/, trusted/, rejected/, issuers/); relative to gateway.dataDir. Default pki/plc-client. */
    pkiDir: z.string().min(1).default('pki/plc-client'),
    /** Trust any server certificate presented (demo on this machine only: refused unless the endpoint is loopback). Default false. */
    acceptUnknownCertificates: z.boolean().default(false),
    /** OPC UA user; empty for anonymous. Default "". */
    username: z.string().default(''),
    /** Password of `username`: set LOUPE__PLC__CLIENT__PASSWORD, never write it here. Default "". */
    password: z.string().default(''),
    /** How long the PLC keeps Loupe's session when the link drops. Default 60000 ms. */
    sessionTimeoutMs: z.number().int().min(10_000).max(3_600_000).default(60_000),
    /** A read or write the PLC does not answer within this time fails. Default 3000 ms. */
    requestTimeoutMs: z.number().int().min(100).max(60_000).default(3000),
    /** How often the PLC sends changed values (the PLC may revise it; the log shows the value in force). Default 50 ms. */
    publishingIntervalMs: z.number().int().min(1).max(10_000).default(50),
    /** How often the PLC samples each input tag. Default 20 ms. */
    samplingIntervalMs: z.number().int().min(0).max(10_000).default(20),
    /** Changes the PLC queues per tag between two publishes (more than 1, so no counter step is lost). Default 10. */
    queueSize: z.number().int().min(2).max(1000).default(10),
    /** With no change, the PLC sends a keep-alive at least this often; three missed mean the link is lost. Default 1000 ms. */
    keepAliveMs: z.number().int().min(100).max(60_000).default(1000),
    /** Loupe increments LoupeHeartbeat this often. Default 500 ms. */
    heartbeatMs: z.number().int().min(50).max(60_000).default(500),
    /** PlcHeartbeat unchanged for this long drops Ready. Default 2000 ms. */
    plcHeartbeatTimeoutMs: z.number().int().min(100).max(600_000).default(2000),
    /** Results the PLC has not acknowledged (ResultAckSeq) that Loupe holds; beyond it Overrun is set and parts get no result. Default 8. */
    resultQueueDepth: z.number().int().min(1).max(1000).default(8),
    /** While results wait behind one the PLC has not acknowledged, read the acknowledgement this often instead of waiting for the PLC to publish it (0: subscription only). Default 20 ms. */
    ackPollMs: z.number().int().min(0).max(10_000).default(20),
    /** Final verdicts the PLC has not acknowledged (FinalAckSeq) that Loupe holds; beyond it Overrun is set. Default 64. */
    finalQueueDepth: z.number().int().min(1).max(10_000).default(64),
    /** Connect retries and session repair. Default: the values below. */
    reconnect: reconnect.prefault({}),
    /** Interface blocks, one per station triggered by the PLC. Default: one block with the default node ids. */
    blocks: z.array(block).min(1).prefault([{}]),
  })
  .refine((c) => c.plcHeartbeatTimeoutMs > c.heartbeatMs, { path: ['plcHeartbeatTimeoutMs'], message: 'expected plcHeartbeatTimeoutMs > heartbeatMs' })
  .refine((c) => c.samplingIntervalMs <= c.publishingIntervalMs, { path: ['samplingIntervalMs'], message: 'expected samplingIntervalMs <= publishingIntervalMs' })
  .refine((c) => !c.acceptUnknownCertificates || isLoopbackEndpoint(c.endpoint), {
    path: ['acceptUnknownCertificates'],
    message: 'accepting unknown certificates is for a demo on this machine, expected false for a PLC on the network (trust its certificate in pkiDir/trusted/certs)',
  });

const server = z
  .strictObject({
    /** Serve Loupe's vision system (OPC 40100-shaped) over OPC UA. Default false. */
    enabled: z.boolean().default(false),
    /** Address to listen on; 0.0.0.0 serves the plant network. Default 127.0.0.1. */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port (0 picks a free one). Default 4841. */
    port: z.number().int().min(0).max(65_535).default(4841),
    /** Security modes offered. Default [SignAndEncrypt]. */
    securityModes: z.array(securityMode).min(1).default(['SignAndEncrypt']),
    /** Security policies offered for Sign and SignAndEncrypt. Default all three current ones. */
    securityPolicies: z.array(securityPolicy).min(1).default(['Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss']),
    /** PKI folder; relative to gateway.dataDir. Default pki/opcua-server. */
    pkiDir: z.string().min(1).default('pki/opcua-server'),
    /** Trust any client certificate (demo on this machine only: refused unless host is loopback). Default false. */
    acceptUnknownCertificates: z.boolean().default(false),
    /** Let clients in without a user name. Default false. */
    allowAnonymous: z.boolean().default(false),
    /** The one OPC UA user (reads results, calls Halt/Reset/StartSingleJob). Default loupe. */
    username: z.string().min(1).default('loupe'),
    /** Password of `username`: set LOUPE__PLC__SERVER__PASSWORD, never write it here. Default "" (user disabled). */
    password: z.string().default(''),
    /** Sessions at once. Default 10. */
    maxSessions: z.number().int().min(1).max(1000).default(10),
  })
  .refine((s) => !s.acceptUnknownCertificates || isLoopbackHost(s.host), {
    path: ['acceptUnknownCertificates'],
    message: 'accepting unknown certificates is for a demo on this machine, expected false when host is not loopback',
  })
  .refine((s) => !s.enabled || s.allowAnonymous || s.password !== '', {
    path: ['password'],
    message: 'nobody could log in, expected a password in LOUPE__PLC__SERVER__PASSWORD or allowAnonymous: true',
  });

const simulator = z
  .strictObject({
    /** Run a simulated PLC in the gateway and point the client at it (the demo). Default false. */
    enabled: z.boolean().default(false),
    /** Address it listens on. Default 127.0.0.1. */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port (0 picks a free one). Default 4840. */
    port: z.number().int().min(0).max(65_535).default(4840),
    /** Parts the simulated line sends per minute. Default 120. */
    partsPerMin: z.number().min(1).max(60_000).default(120),
    /** The simulated PLC's scan cycle. Default 10 ms. */
    cycleMs: z.number().int().min(1).max(1000).default(10),
    /** PlcHeartbeat increments this often. Default 500 ms. */
    heartbeatMs: z.number().int().min(10).max(60_000).default(500),
    /** Part ids are this prefix plus a running number. Default P. */
    partIdPrefix: z.string().regex(/^[A-Za-z0-9_-]{0,16}$/).default('P'),
    /** The simulated PLC diverts a part with no result after this long. Default 3000 ms. */
    resultTimeoutMs: z.number().int().min(10).max(600_000).default(3000),
    /** The simulated PLC diverts a held part with no final verdict after this long. Default 180000 ms. */
    finalTimeoutMs: z.number().int().min(10).max(86_400_000).default(180_000),
    /** Security modes it offers. Default [None] (loopback demo). */
    securityModes: z.array(securityMode).min(1).default(['None']),
    /** PKI folder; relative to gateway.dataDir. Default pki/plc-sim. */
    pkiDir: z.string().min(1).default('pki/plc-sim'),
    /** OPC UA user it requires; empty allows anonymous. Default "". */
    username: z.string().default(''),
    /** Password of `username` (LOUPE__PLC__SIMULATOR__PASSWORD). Default "". */
    password: z.string().default(''),
  })
  .refine((s) => isLoopbackHost(s.host), { path: ['host'], message: 'the simulator is for this machine only, expected 127.0.0.1, ::1 or localhost' });

export const plcSchema = z.strictObject({
  /** Loupe as a client of the PLC: the handshake. Default disabled. */
  client: client.prefault({}),
  /** Loupe's own OPC UA server. Default disabled. */
  server: server.prefault({}),
  /** A simulated PLC in the gateway process. Default disabled. */
  simulator: simulator.prefault({}),
});

export type PlcConfig = z.infer<typeof plcSchema>;
export type PlcClientConfig = PlcConfig['client'];
export type PlcBlockConfig = PlcClientConfig['blocks'][number];
export type PlcRecipeConfig = PlcBlockConfig['recipes'][string];
export type PlcServerConfig = PlcConfig['server'];
export type PlcSimulatorConfig = PlcConfig['simulator'];
export type SecurityModeName = z.infer<typeof securityMode>;
export type SecurityPolicyName = z.infer<typeof securityPolicy>;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function isLoopbackEndpoint(url: string): boolean {
  const m = /^opc\.tcp:\/\/(\[[^\]]+\]|[^:/]+)/.exec(url);
  return m?.[1] !== undefined && isLoopbackHost(m[1]);
}
