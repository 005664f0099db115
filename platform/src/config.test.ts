import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfig, ConfigError, loadConfig } from './config.ts';

describe('configuration', () => {
  it('fills defaults and treats empty variables as unset', () => {
    const config = loadConfig(baseConfig, { DATABASE_URL: '', KAFKA_BROKERS: '' });
    expect(config).toMatchObject({ KAFKA_BROKERS: [], HEPH_DATA_DIR: './.heph', LOG_LEVEL: 'info' });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('splits the broker list', () => {
    expect(loadConfig(baseConfig, { KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093' }).KAFKA_BROKERS).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
  });

  it('stops with a message naming the bad variable and its value', () => {
    expect(() => loadConfig(baseConfig, { DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    try {
      loadConfig(baseConfig, { DATABASE_URL: 'mysql://x' });
    } catch (error) {
      expect((error as Error).message).toBe('invalid configuration:\n  DATABASE_URL: must be a postgres:// URL (got "mysql://x")');
    }
  });

  it('never prints a secret value', () => {
    const schema = baseConfig.extend({ HEPH_INGEST_TOKENS: z.string().refine(() => false, 'bad token') });
    expect(() => loadConfig(schema, { HEPH_INGEST_TOKENS: 'hunter2' })).toThrow(/HEPH_INGEST_TOKENS: bad token \(got "\*\*\*"\)/);
  });
});
