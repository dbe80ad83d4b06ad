import type { ModelOutputSpec } from '../manifest.js';
import { anomaly } from './anomaly.js';
import { classification } from './classification.js';
import { detection } from './detection.js';
import type { OutputAdapter } from './output-adapter.js';

/** One adapter per model task; adding a task means one file and one line here. */
export const outputAdapters: { [T in ModelOutputSpec['task']]: OutputAdapter<T> } = {
  classification,
  anomaly,
  detection,
};
