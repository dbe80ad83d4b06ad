import { z } from 'zod';

/** PLC link over OPC UA (client to the PLC, Loupe's own server, the simulator). */
export const plcSchema = z.strictObject({
  /** Talk to a PLC at all. Default false. */
  enabled: z.boolean().default(false),
});

export type PlcConfig = z.infer<typeof plcSchema>;
