import type { Logger } from 'pino';
import type { CameraConfig } from '../config/sections/camera.js';
import { FfmpegStream } from './ffmpeg-stream.js';
import { FolderWatch } from './folder-watch.js';
import type { FrameSource } from './frame-source.js';
import { HttpSnapshot } from './http-snapshot.js';
import { SyntheticLine } from './synthetic/synthetic-line.js';

export interface FrameSourceDeps {
  log: Logger;
}

type Factories = {
  [K in CameraConfig['type']]: (config: Extract<CameraConfig, { type: K }>, deps: FrameSourceDeps) => FrameSource;
};

/** One line per camera kind: adding a kind means adding its file, its config schema and a line here. */
const factories: Factories = {
  synthetic: ({ type: _type, ...options }) => new SyntheticLine(options),
  folder: (config, deps) => new FolderWatch(config, deps.log),
  'http-snapshot': (config, deps) => new HttpSnapshot(config, deps.log),
  ffmpeg: (config, deps) => new FfmpegStream(config, deps.log),
};

/** The camera `config.type` names, not yet opened. */
export function createFrameSource(config: CameraConfig, deps: FrameSourceDeps): FrameSource {
  // TypeScript cannot tie the looked-up factory to the narrowed config; the mapped type above keeps each line honest.
  const factory = factories[config.type] as (config: CameraConfig, deps: FrameSourceDeps) => FrameSource;
  return factory(config, deps);
}
