import type { Frame } from '../gateway/src/camera/frame.js';
import type { CameraStatus, FrameSource } from '../gateway/src/camera/frame-source.js';
import { SyntheticLine } from '../gateway/src/camera/synthetic/synthetic-line.js';

/**
 * Frames rendered before the clock starts, replayed in a loop: the figure is
 * the pipeline's (decode -> preprocess -> infer -> decide -> store), not the
 * renderer's, which is CPU work on the event loop that a real camera is not.
 */
export class RecordedFrames implements FrameSource {
  readonly type = 'recorded';
  private next = 0;
  constructor(private readonly recorded: Frame[]) {}
  async open(): Promise<void> {}
  async grab(): Promise<Frame> {
    const f = this.recorded[this.next++ % this.recorded.length];
    if (!f) throw new Error('no recorded frames');
    return { ...f, capturedAt: new Date() };
  }
  status(): CameraStatus {
    return { state: 'ok', lastError: null, framesGrabbed: this.next, framesFailed: 0 };
  }
  async close(): Promise<void> {}
}

/** `count` demo-line frames (256x256 JPEG q90, 15 % defective) for seed `seed`. */
export async function recordFrames(count: number, seed: number): Promise<Frame[]> {
  const line = new SyntheticLine({ seed, widthPx: 256, heightPx: 256, defectRate: 0.15, format: 'jpeg', jpegQuality: 90 });
  await line.open();
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(await line.grab());
  await line.close();
  return frames;
}
