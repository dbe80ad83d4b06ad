import type { Logger } from 'pino';
import { format } from 'node:util';

/**
 * The OPC UA stack writes its own warnings to the console (reconnect
 * attempts, certificate chatter, a PKCS#1 v1.5 self-test Loupe does not
 * depend on: no policy it offers uses it). Loupe logs every state change it
 * acts on itself, with context; the stack's lines go to the debug level of
 * `log`, there when asked for and out of the operator's way otherwise.
 *
 * Call this before the stack itself is imported: part of its chatter comes
 * at load time. Its loggers are process-wide; the last caller wins.
 */
export async function routeStackLogs(log: Logger): Promise<void> {
  const child = log.child({ component: 'opcua-stack' });
  const print = (...args: unknown[]) => {
    if (child.isLevelEnabled('debug')) child.debug(format(...args).replace(/\x1b\[[0-9;]*m/g, '').trim());
  };
  // The logging module of the stack is small; loading it first lets us catch the load-time lines.
  const debug = await import('node-opcua-debug');
  debug.setWarningLogger(print);
  debug.setErrorLogger(print);
}
