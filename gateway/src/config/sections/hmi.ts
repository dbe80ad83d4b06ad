import { z } from 'zod';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time HH:MM, e.g. "06:00"');

/** The operator HMI: language, locking, sessions, kiosk screens and shifts. */
export const hmiSchema = z.strictObject({
  /** Language of the HMI until an operator picks another on the device: en or de. Default en. */
  language: z.enum(['en', 'de']).default('en'),
  /** Lock the review screen after this long without a touch; the operator enters the PIN again. Default 5 min. */
  idleLockMinutes: z.number().min(0.1).max(720).default(5),
  /** Wrong PINs in a row before the operator id is locked out. Default 5. */
  lockoutAttempts: z.number().int().min(2).max(50).default(5),
  /** How long a locked-out operator id stays locked out. Default 5 min. */
  lockoutMinutes: z.number().min(0.1).max(1440).default(5),
  /** A login lasts at most this long (one shift plus handover), then the operator logs in again. Default 12 h. */
  sessionHours: z.number().min(0.05).max(168).default(12),
  /** A decision is held on the screen this long so `Undo` can take it back before it is sent. Default 4000 ms. */
  undoWindowMs: z.number().int().min(0).max(30_000).default(4000),
  /** Send the session cookie only over HTTPS (set when a TLS proxy fronts the gateway). Default false. */
  cookieSecure: z.boolean().default(false),
  /** Create an admin and a demo operator with well-known PINs when no operator exists yet (printed in the log). Default true. */
  seedDemoUsers: z.boolean().default(true),
  /** The line status screen and its live feed work without a login (wall displays); part images and the API still need one. Default true. */
  publicStatus: z.boolean().default(true),
  /** Local times at which shifts start; the status screen's yield counts from the latest. Default 06:00, 14:00, 22:00. */
  shiftStarts: z.array(hhmm).min(1).max(12).default(['06:00', '14:00', '22:00']),
  /** Folder with the built HMI (`npm run build:hmi`). Default: hmi/dist in the package. */
  distDir: z.string().min(1).optional(),
  kiosk: z
    .strictObject({
      /** Screen a kiosk URL without `screen=` opens: review (touchscreen by the line) or status (wall display). Default review. */
      screen: z.enum(['review', 'status']).default('review'),
      /** Station a kiosk URL without `station=` shows. Default: the first station. */
      station: z.string().optional(),
      /** Hide the mouse pointer on kiosk screens (touch-only panels). Default true. */
      hideCursor: z.boolean().default(true),
    })
    .prefault({}),
});

export type HmiConfig = z.infer<typeof hmiSchema>;
