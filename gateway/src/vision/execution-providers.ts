import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import type { ExecutionProviderName } from '../config/sections/station.js';
import { errorMessage, LoupeError } from '../errors.js';

export interface LoadedSession {
  session: ort.InferenceSession;
  /** The execution provider that actually runs the model. */
  provider: ExecutionProviderName;
}

/**
 * Try each execution provider in the order the config prefers; the first that
 * loads wins. A provider that cannot load (no GPU, no CUDA libraries) costs one
 * warning naming it and the reason, never a failed start while `cpu` remains.
 */
export async function createSession(
  onnxPath: string,
  providers: readonly ExecutionProviderName[],
  opts: { intraOpThreads: number; log: Logger },
): Promise<LoadedSession> {
  // ORT's default logger prints a multi-line native error for a provider that fails to
  // load; the gateway reports that as one structured line, and real failures as exceptions.
  ort.env.logLevel = 'fatal';
  const failures: string[] = [];
  for (const provider of providers) {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      ...(opts.intraOpThreads > 0 ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    };
    try {
      const session = await ort.InferenceSession.create(onnxPath, options);
      return { session, provider };
    } catch (err) {
      const reason = firstLine(errorMessage(err)) + (provider === 'cpu' ? '' : ' (GPU libraries missing? see README, "GPU (CUDA)")');
      failures.push(`${provider}: ${reason}`);
      const next = providers[providers.indexOf(provider) + 1];
      opts.log.warn(
        { provider, reason, next: next ?? null },
        next
          ? `execution provider ${provider} unavailable (${reason}); falling back to ${next}`
          : `execution provider ${provider} unavailable (${reason})`,
      );
    }
  }
  throw new LoupeError('LOUPE_ERR_MODEL_LOAD', `cannot load ${onnxPath} with any execution provider: ${failures.join('; ')}`, {
    details: { onnxPath, failures },
  });
}

function firstLine(s: string): string {
  return (s.split('\n')[0] ?? s).slice(0, 300);
}

/** ONNX Runtime's version, for logs and benchmarks. */
export const ortVersion: string = ort.env.versions.node ?? 'unknown';
