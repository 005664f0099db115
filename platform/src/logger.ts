// Structured logging (pino): short lower-case messages, data in fields, secrets redacted.
import { pino, type Logger } from 'pino';

export type { Logger };

/** `destination`: where the JSON lines go instead of stdout (a test keeping them in memory). */
export const createLogger = (options: { level?: string; name?: string; pretty?: boolean; destination?: { write(line: string): void } } = {}): Logger =>
  pino({
    level: options.level ?? 'info',
    name: options.name,
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'], censor: '***' },
    transport: options.pretty
      ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true } }
      : undefined,
  }, options.destination);
