export * from './console.ts';
export * from './config.ts';
export { registerAlertmanagerApi, type AlertmanagerApiOptions } from './alertmanager.ts';
export * from './main.ts';
