import { ServiceProcess } from '../testing/service-process.js';

export const ADMIN_TOKEN = 'chaos-admin-token-0123456789';

/** A service of the harness: its stderr shown, and an exit it did not cause counted as a violation. */
export function startService(databaseUrl: string, env?: Record<string, string>): Promise<ServiceProcess> {
  return ServiceProcess.start({ databaseUrl, adminToken: ADMIN_TOKEN, echo: true, env });
}
