/**
 * The outbox's budget: how many messages, and how old, before someone must
 * look. Over budget is an alarm, never a reason to drop a correction.
 */
export type AlarmLevel = 'ok' | 'warn' | 'full';

export interface BudgetLimits {
  maxRows: number;
  maxAgeMs: number;
  /** Share of either limit at which `warn` starts. */
  warnRatio: number;
}

export interface Backlog {
  count: number;
  oldestAgeMs: number;
}

export function budgetLevel(b: Backlog, l: BudgetLimits): AlarmLevel {
  if (b.count >= l.maxRows || b.oldestAgeMs >= l.maxAgeMs) return 'full';
  if (b.count >= l.maxRows * l.warnRatio || b.oldestAgeMs >= l.maxAgeMs * l.warnRatio) return 'warn';
  return 'ok';
}

/** `12034 of 100000 messages, oldest 2.5 h of 168 h`, for logs and the HMI. */
export function describeBacklog(b: Backlog, l: BudgetLimits): string {
  const hours = (ms: number) => `${Math.round((ms / 3_600_000) * 10) / 10} h`;
  return `${b.count} of ${l.maxRows} messages, oldest ${hours(b.oldestAgeMs)} of ${hours(l.maxAgeMs)}`;
}

export const ALARM_VALUE: Record<AlarmLevel, number> = { ok: 0, warn: 1, full: 2 };
