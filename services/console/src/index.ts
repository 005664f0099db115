export * from './console.ts';
export * from './config.ts';
export { registerAlertmanagerApi, type AlertmanagerApiOptions } from './alertmanager.ts';
export { createSilence, expireSilence, projectSilenceEvent } from './silence-store.ts';
export * from './main.ts';
