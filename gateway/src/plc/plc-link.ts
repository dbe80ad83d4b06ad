import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LinkStatus } from '../api/context.js';
import { ConfigError, type ConfigProblem } from '../config/load.js';
import type { PlcBlockConfig, PlcConfig } from '../config/sections/plc.js';
import type { StationConfig } from '../config/sections/station.js';
import type { Station } from '../inspect/station.js';
import type { Metrics } from '../metrics.js';
import type { ReviewQueue } from '../review/review-queue.js';
import type { Store } from '../store/store.js';
import type { OwnModel } from './recipes.js';
import { routeStackLogs } from './stack-log.js';

/**
 * The PLC side of the gateway, as the composition root sees it: one call to
 * start whatever `plc:` enables (the simulator, the client handshake, the
 * OPC UA server) and one to stop it. The OPC UA stack is loaded only when
 * something is enabled.
 */

export interface PlcDeps {
  cfg: PlcConfig;
  stationConfigs: readonly StationConfig[];
  stations: ReadonlyMap<string, Station>;
  /** Per station, the model recipe 0 returns to; a station not listed keeps the model it was built with. */
  ownModels?: ReadonlyMap<string, OwnModel>;
  review: ReviewQueue;
  store: Store;
  metrics: Metrics;
  log: Logger;
  gatewayId: string;
  /** Parts in flight get this long to reach the PLC on stop. */
  shutdownGraceMs: number;
}

export interface PlcLink {
  /** Live entries for /healthz and the HMI (updated in place). */
  links: LinkStatus[];
  stop(): Promise<void>;
}

/** An interface block and the station it triggers, checked against the stations. */
export interface WiredBlock {
  station: string;
  block: PlcBlockConfig;
}

export async function startPlc(deps: PlcDeps): Promise<PlcLink> {
  const blocks = wirePlc(deps.cfg, deps.stationConfigs);
  const { client, server, simulator } = deps.cfg;
  if (!client.enabled && !server.enabled && !simulator.enabled) {
    return { links: [{ name: 'plc', state: 'disabled', detail: null }], stop: async () => undefined };
  }
  await routeStackLogs(deps.log);
  const { startPlcRuntime } = await import('./plc-runtime.js');
  return startPlcRuntime(deps, blocks);
}

/**
 * Which block triggers which station, and whether that adds up: every
 * station with trigger plc needs exactly one block, and every block one such
 * station. Problems name the key and the fix, like the config loader's.
 */
export function wirePlc(cfg: PlcConfig, stations: readonly StationConfig[]): WiredBlock[] {
  const problems: ConfigProblem[] = [];
  const plcStations = stations.filter((s) => s.trigger.type === 'plc').map((s) => s.id);
  if (!cfg.client.enabled) {
    stations.forEach((s, i) => {
      if (s.trigger.type === 'plc') problems.push({ path: `stations.${i}.trigger.type`, message: 'parts come from the PLC handshake, expected plc.client.enabled: true (with plc.simulator.enabled for the demo)' });
    });
    if (problems.length > 0) throw new ConfigError('config', problems);
    return [];
  }
  const wired: WiredBlock[] = [];
  cfg.client.blocks.forEach((block, i) => {
    const key = `plc.client.blocks.${i}`;
    let station = block.station;
    if (station === undefined) {
      if (plcStations.length === 1) station = plcStations[0];
      else {
        problems.push({
          path: `${key}.station`,
          message: plcStations.length === 0 ? 'no station has trigger type plc, expected a station whose trigger is { type: plc }' : `several stations have trigger plc, expected one of ${plcStations.join(', ')}`,
        });
        return;
      }
    }
    const s = stations.find((x) => x.id === station);
    if (!s) problems.push({ path: `${key}.station`, message: `got "${station}", expected one of the station ids ${stations.map((x) => x.id).join(', ')}` });
    else if (s.trigger.type !== 'plc') problems.push({ path: `${key}.station`, message: `station ${station} has trigger ${s.trigger.type}, expected a station whose trigger is { type: plc }` });
    else if (wired.some((w) => w.station === station)) problems.push({ path: `${key}.station`, message: `station ${station} already has a block, expected one block per station` });
    else wired.push({ station: station as string, block });
    for (const [id, r] of Object.entries(block.recipes)) {
      if (r.modelPath && !existsSync(join(r.modelPath, 'model.json'))) {
        problems.push({ path: `${key}.recipes.${id}.modelPath`, message: `no model package at ${r.modelPath}, expected a folder with model.json and model.onnx` });
      }
    }
  });
  stations.forEach((s, i) => {
    if (s.trigger.type === 'plc' && !wired.some((w) => w.station === s.id) && !problems.some((p) => p.path.startsWith('plc.client.blocks'))) {
      problems.push({ path: `stations.${i}.trigger.type`, message: `no plc.client.blocks entry triggers station ${s.id}, expected a block with station: ${s.id}` });
    }
  });
  if (problems.length > 0) throw new ConfigError('config', problems);
  return wired;
}
