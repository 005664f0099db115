// Structured logging (pino): short lower-case messages, data in fields, secrets redacted.
import { pino, type Logger } from 'pino';

export type { Logger };

export const createLogger = (options: { level?: string; name?: string; pretty?: boolean } = {}): Logger =>
  pino({
    level: options.level ?? 'info',
    name: options.name,
    redact: { paths: ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization'], censor: '***' },
    transport: options.pretty
      ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', singleLine: true } }
      : undefined,
  });
