import { z } from 'zod';

/** Corrections uplink to the plant's MQTT broker. */
export const uplinkSchema = z.strictObject({
  /** Publish to a broker at all (corrections still queue in the outbox when false). Default false. */
  enabled: z.boolean().default(false),
});

export type UplinkConfig = z.infer<typeof uplinkSchema>;
