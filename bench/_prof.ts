import { join } from 'node:path';
import { benchPipeline } from './pipeline.js';
const f = await benchPipeline({ modelPath: join(process.cwd(), 'models', 'demo-part'), seconds: 6, durable: true });
console.log(JSON.stringify(f));
process.exit(0);
