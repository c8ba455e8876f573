import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { sessionSettingsSql } from '../src/config/data-source-options.js';
import { POOLING_SETTINGS } from '../testing/pgbouncer.js';

// docker compose's fleet (--profile fleet) has no engine to run on here: these checks keep it
// equal, by construction where it can be, to the fleet the tests and chaos scenario 11 run.

/** The `key = value` lines of one [section] of an ini file. */
function iniSection(text: string, section: string): Map<string, string> {
  const values = new Map<string, string>();
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === section) {
      const at = line.indexOf('=');
      values.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
    }
  }
  return values;
}

interface ComposeService {
  profiles?: string[];
  environment?: Record<string, string>;
  command?: string[];
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, ComposeService> };
const pgbouncerIni = readFileSync('deploy/fleet/pgbouncer.ini', 'utf8');

describe('the fleet of docker-compose.yml', () => {
  it('pools as the tested PgBouncer does, and sets the service’s session bounds on every server connection', () => {
    const settings = iniSection(pgbouncerIni, 'pgbouncer');
    for (const [name, value] of Object.entries(POOLING_SETTINGS)) expect({ name, value: settings.get(name) }).toEqual({ name, value });
    const database = iniSection(pgbouncerIni, 'databases').get('payments');
    expect(database).toContain(`connect_query='${sessionSettingsSql()}'`);
  });

  it('has three replicas on PgBouncer with named statements off and the rate limits in Redis, behind the tested haproxy.cfg', () => {
    const replicas = Object.entries(compose.services).filter(([name]) => /^api-\d$/.test(name));
    expect(replicas.map(([name]) => name)).toEqual(['api-1', 'api-2', 'api-3']);
    for (const [, replica] of replicas) {
      expect(replica.profiles).toEqual(['fleet']);
      expect(replica.environment).toMatchObject({
        DATABASE_URL: expect.stringContaining('@pgbouncer:6432/'),
        DATABASE_PREPARED_STATEMENTS: 'off',
        REDIS_URL: 'redis://redis:6379',
      });
    }
    const haproxy = compose.services.haproxy!;
    expect(haproxy.command).toEqual(['haproxy', '-db', '-f', '/etc/haproxy/fleet/haproxy.cfg']);
    expect(haproxy.environment).toMatchObject({ API_1: 'api-1:3000', API_2: 'api-2:3000', API_3: 'api-3:3000' });
    for (const part of ['pgbouncer', 'redis', 'haproxy']) expect(compose.services[part]!.profiles).toEqual(['fleet']);
  });
});
