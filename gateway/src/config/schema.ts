import { z } from 'zod';
import { hmiSchema } from './sections/hmi.js';
import { httpSchema } from './sections/http.js';
import { modelsSchema } from './sections/models.js';
import { plcSchema } from './sections/plc.js';
import { shiftsSchema } from './sections/shifts.js';
import { stationSchema } from './sections/station.js';
import { storeSchema } from './sections/store.js';
import { uplinkSchema } from './sections/uplink.js';

/**
 * The whole gateway configuration: the one source of truth for types,
 * defaults, validation and docs. Every key has a default, so an empty file
 * runs the embedded demo (synthetic line, bundled model).
 */
export const configSchema = z
  .strictObject({
    gateway: z
      .strictObject({
        /** Plant site id, used in MQTT topics. Default site. */
        site: z.string().regex(/^[A-Za-z0-9_-]+$/).default('site'),
        /** Line id, used in MQTT topics. Default line. */
        line: z.string().regex(/^[A-Za-z0-9_-]+$/).default('line'),
        /** This gateway's id (MQTT client id, OPC UA application name). Default loupe. */
        id: z.string().regex(/^[A-Za-z0-9_-]+$/).default('loupe'),
        /** Where the database and images live. Default ./data. */
        dataDir: z.string().min(1).default('data'),
        /** In-flight parts get this long to finish on SIGTERM before the store closes. Default 10000 ms. */
        shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
      })
      .prefault({}),
    log: z
      .strictObject({
        /** pino level. Default info. */
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /** Human-readable lines: auto = when stdout is a terminal. Default auto. */
        pretty: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .prefault({}),
    http: httpSchema.prefault({}),
    store: storeSchema.prefault({}),
    /** One station = one camera + one model + one policy. Default: one synthetic demo station. */
    stations: z.array(stationSchema).min(1).prefault([{ id: 'station-1' }]),
    plc: plcSchema.prefault({}),
    uplink: uplinkSchema.prefault({}),
    /** Model registry, shadow runs, promotion and delivery over MQTT (docs/model-lifecycle.md). */
    models: modelsSchema.prefault({}),
    /** The operator HMI: language, locking, sessions, kiosk, shifts. */
    hmi: hmiSchema.prefault({}),
    /** Shifts and the plant's time zone, for statistics per shift, hour and day. */
    shifts: shiftsSchema.prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.stations.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['stations', i, 'id'], message: `duplicate station id "${s.id}", expected unique ids` });
      seen.add(s.id);
      if (s.trigger.type === 'file' && s.camera.type !== 'folder') {
        ctx.addIssue({ code: 'custom', path: ['stations', i, 'trigger', 'type'], message: 'trigger "file" needs camera.type "folder", expected interval, api or plc' });
      }
      if (s.camera.type === 'folder' && s.trigger.type !== 'file') {
        ctx.addIssue({ code: 'custom', path: ['stations', i, 'trigger', 'type'], message: 'a folder camera delivers one part per file, expected trigger type "file"' });
      }
    });
    if (cfg.hmi.kiosk.station !== undefined && !seen.has(cfg.hmi.kiosk.station)) {
      ctx.addIssue({ code: 'custom', path: ['hmi', 'kiosk', 'station'], message: `no station "${cfg.hmi.kiosk.station}", expected one of ${[...seen].join(', ')}` });
    }
  });

export type LoupeConfig = z.infer<typeof configSchema>;
/** What a config file may contain (everything optional). */
export type LoupeConfigInput = z.input<typeof configSchema>;
