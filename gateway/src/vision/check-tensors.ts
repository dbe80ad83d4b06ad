import type { InferenceSession } from 'onnxruntime-node';
import { LoupeError } from '../errors.js';
import type { ModelManifest } from './manifest.js';

/**
 * Refuse a model whose graph does not match its manifest before it sees a
 * frame: a wrong input size or a missing output would otherwise surface as
 * garbage verdicts on the line.
 */
export function checkTensors(session: InferenceSession, m: ModelManifest, where: string): void {
  const problems: string[] = [];
  const input = session.inputMetadata.find((i) => i.name === m.input.name);
  if (!input) {
    problems.push(`input "${m.input.name}" not in the graph (it has ${session.inputNames.join(', ')})`);
  } else if (input.isTensor) {
    const want = m.input.dtype === 'uint8' ? 'uint8' : 'float32';
    if (input.type !== want) problems.push(`input "${m.input.name}" is ${input.type}, model.json says ${want}`);
    const c = m.input.colorOrder === 'GRAY' ? 1 : 3;
    const expected = m.input.layout === 'NCHW' ? [c, m.input.height, m.input.width] : [m.input.height, m.input.width, c];
    const actual = input.shape.slice(1);
    if (input.shape.length !== 4) problems.push(`input "${m.input.name}" has rank ${input.shape.length}, expected 4 (${m.input.layout})`);
    else
      expected.forEach((dim, i) => {
        const got = actual[i];
        if (typeof got === 'number' && got !== dim) {
          problems.push(`input "${m.input.name}" shape [${input.shape.join(', ')}] does not fit ${m.input.layout} ${m.input.width}x${m.input.height}x${c}`);
        }
      });
  }
  for (const name of outputNames(m)) {
    if (!session.outputNames.includes(name)) problems.push(`output "${name}" not in the graph (it has ${session.outputNames.join(', ')})`);
  }
  const o = m.outputs;
  if (o.task === 'classification') {
    const meta = session.outputMetadata.find((x) => x.name === o.scores);
    const n = meta?.isTensor ? meta.shape.at(-1) : undefined;
    if (typeof n === 'number' && n !== m.labels.length) problems.push(`output "${o.scores}" has ${n} scores, model.json lists ${m.labels.length} labels`);
  }
  if (o.task === 'detection') {
    const meta = session.outputMetadata.find((x) => x.name === o.output);
    const n = meta?.isTensor ? meta.shape[1] : undefined;
    if (typeof n === 'number' && n !== 4 + m.labels.length) problems.push(`output "${o.output}" has ${n} rows, expected 4 + ${m.labels.length} labels`);
  }
  if (problems.length > 0) {
    throw new LoupeError('LOUPE_ERR_MODEL_MISMATCH', `${where}: ${problems.join('; ')}: fix model.json or re-export the model`, { details: { problems } });
  }
}

export function outputNames(m: ModelManifest): string[] {
  const o = m.outputs;
  switch (o.task) {
    case 'classification':
      return o.heatMap ? [o.scores, o.heatMap] : [o.scores];
    case 'anomaly':
      return [o.map, o.score];
    case 'detection':
      return [o.output];
  }
}
