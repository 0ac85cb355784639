/** Structured JSON logs, one object per line, with `conversationId` and `requestId` when known. */

/** Log levels in order. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A logger taking a message and fields. */
export type Logger = (fields: { level?: Exclude<LogLevel, 'silent'>; msg: string; [k: string]: unknown }) => void;

/** A JSON-lines logger to stdout that drops lines below `minLevel`. */
export function createLogger(minLevel: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Logger {
  const min = LOG_LEVELS.indexOf(minLevel);
  return (fields) => {
    const level = fields.level ?? 'info';
    if (LOG_LEVELS.indexOf(level) < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), ...fields, level }));
  };
}
