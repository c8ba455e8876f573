import { createApp } from '../src/app.setup.js';
import { loadConfig } from '../src/config/app-config.js';
import { freePort } from '../src/common/free-port.js';

describe('an application that cannot start', () => {
  it('throws to its caller, never ends the process: a module failing to start (no database) is an error to handle', async () => {
    // Nothing listens on a port just found free: the DataSource's connection is refused at start.
    const port = await freePort();
    const config = loadConfig({ LOG_LEVEL: 'error', ADMIN_TOKEN: 'test-admin-token-0123456789', RATE_LIMIT_PER_SECOND: '0' });
    await expect(createApp(config, `postgres://postgres@127.0.0.1:${port}/nothing`)).rejects.toThrow();
  });
});
