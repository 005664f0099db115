import { loadConfig } from '@hephaestus/platform';
import { describe, expect, it } from 'vitest';
import { healerConfig } from './config.ts';

describe('healer configuration', () => {
  it('leases for 15 s under a name of its own by default, distinct per start', () => {
    const first = loadConfig(healerConfig, {});
    expect(first.HEPH_HEALER_LEASE_SECONDS).toBe(15);
    expect(first.HEPH_HEALER_ID).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
    expect(loadConfig(healerConfig, {}).HEPH_HEALER_ID).not.toBe(first.HEPH_HEALER_ID);
    expect(loadConfig(healerConfig, { HEPH_HEALER_ID: 'healer-2', HEPH_HEALER_LEASE_SECONDS: '4' })).toMatchObject({ HEPH_HEALER_ID: 'healer-2', HEPH_HEALER_LEASE_SECONDS: 4 });
  });

  it('refuses a lease that is not a positive number of seconds and a name with spaces, naming the variable', () => {
    expect(() => loadConfig(healerConfig, { HEPH_HEALER_LEASE_SECONDS: '0' })).toThrow(/HEPH_HEALER_LEASE_SECONDS/);
    expect(() => loadConfig(healerConfig, { HEPH_HEALER_LEASE_SECONDS: 'soon' })).toThrow(/HEPH_HEALER_LEASE_SECONDS/);
    expect(() => loadConfig(healerConfig, { HEPH_HEALER_ID: 'healer two' })).toThrow(/HEPH_HEALER_ID: letters, digits/);
  });
});
