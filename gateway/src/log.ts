import { pino, type Logger } from 'pino';

/**
 * The root logger. Pretty lines for a person at a terminal, JSON for
 * journald, Docker and log shippers. Secrets never reach a log line: the
 * redact list covers the config keys that can hold them.
 */
export function createLogger(opts: { level: string; pretty: 'auto' | 'always' | 'never' }): Logger {
  const pretty = opts.pretty === 'always' || (opts.pretty === 'auto' && process.stdout.isTTY === true);
  return pino({
    level: opts.level,
    base: { service: 'loupe' },
    redact: { paths: ['*.password', '*.*.password', '*.token', 'password', 'pin'], censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } }
      : {}),
  });
}
