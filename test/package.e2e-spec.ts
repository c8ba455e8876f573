import { PaymentsAdminClient } from '@payments/client';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, request as forward, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { findBinary, missingBinaryMessage } from '../testing/system-binaries.js';
import { ADMIN_TOKEN, TestApp } from './support/test-app.js';

// The client as a team gets it: `npm pack` of clients/typescript, installed from the tarball into a
// fresh folder outside the repository (offline: its dependencies are packed from the repository's
// node_modules, so nothing but the tarballs is installed), compiled by a consumer under tsc --strict
// with moduleResolution node16 and bundler, then run under Node and, as an ES module page, in
// Chromium, against the real service.

const SLOW_MS = 240_000;

const run = promisify(execFile);
const REPO = path.resolve('.');
const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');
const CHROMIUM = process.env.CHROMIUM_PATH ?? findBinary('chromium');

/** Compiles the consumer with one of its tsconfigs; a failure says what tsc said. */
async function tsc(folder: string, config: string): Promise<void> {
  try {
    await run(process.execPath, [TSC, '-p', config], { cwd: folder });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p ${config} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** The packages `name` needs at run time, from the repository's node_modules (itself excluded). */
function runtimeDependencies(name: string, seen = new Set<string>()): Set<string> {
  const manifest = JSON.parse(readFileSync(path.join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const dependency of Object.keys(manifest.dependencies ?? {})) {
    if (seen.has(dependency)) continue;
    seen.add(dependency);
    runtimeDependencies(dependency, seen);
  }
  return seen;
}

const CONSUMER_PAYMENTS = `import {
  OutcomeUnknownError,
  PaymentsClient,
  ProblemError,
  DEFAULT_RETRY_BUDGET,
  type Charge,
  type RecordedResult,
} from '@payments/client';

export interface Summary {
  chargeStatus: Charge['status'];
  replayed: boolean;
  balance: number;
  etag: string | undefined;
  declined: string | undefined;
  budget: number;
}

export async function payOnce(baseUrl: string, apiKey: string, inBrowser: boolean): Promise<Summary> {
  const payments = new PaymentsClient({ baseUrl, apiKey, dangerouslyAllowBrowser: inBrowser });
  const account = await payments.upsertAccount('consumer-' + Math.random().toString(36).slice(2), { currency: 'usd', name: 'Consumer' });
  await payments.deposit(account.data.id, { amount: 1_000 });
  const body = { amount: 400, currency: 'usd', source: account.data.id };
  const first: RecordedResult<Charge> = await payments.createCharge(body);
  const again = await payments.createCharge(body, { idempotencyKey: first.idempotencyKey });
  let declined: string | undefined;
  try {
    await payments.createCharge({ ...body, amount: 5_000 });
  } catch (error) {
    if (error instanceof ProblemError) declined = error.code;
    else if (error instanceof OutcomeUnknownError) declined = 'unknown: ' + error.idempotencyKey;
    else throw error;
  }
  const read = await payments.getAccount(account.data.id);
  return {
    chargeStatus: again.data.status,
    replayed: again.replayed && again.data.id === first.data.id,
    balance: read.data.balance,
    etag: read.etag,
    declined,
    budget: DEFAULT_RETRY_BUDGET.capacity,
  };
}
`;

const CONSUMER_NODE = `import { payOnce } from './payments.js';

declare const process: { env: Record<string, string | undefined>; stdout: { write(text: string): void } };

const summary = await payOnce(process.env.PAYMENTS_URL ?? '', process.env.PAYMENTS_API_KEY ?? '', false);
process.stdout.write(JSON.stringify(summary));
`;

const CONSUMER_BROWSER = `import { PaymentsClient } from '@payments/client';
import { payOnce } from './payments.js';

const page = window as unknown as { outcome?: unknown };
let refused = '';
try {
  new PaymentsClient({ baseUrl: location.origin, apiKey: 'sk_mer_page.secret' });
} catch (error) {
  refused = error instanceof Error ? error.message : String(error);
}
const apiKey = new URLSearchParams(location.hash.slice(1)).get('key') ?? '';
payOnce(location.origin, apiKey, true).then(
  (summary) => (page.outcome = { refused, ...summary }),
  (error: unknown) => (page.outcome = { error: String(error) }),
);
`;

function tsconfig(module: string, moduleResolution: string, emit: boolean): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      target: 'ES2022',
      module,
      moduleResolution,
      lib: ['ES2022', 'DOM'],
      types: [],
      skipLibCheck: false,
      ...(emit ? { rootDir: 'src', outDir: 'out' } : { noEmit: true }),
    },
    include: ['src'],
  });
}

describe('the client package, installed from its tarball', () => {
  let folder: string;
  let app: TestApp;
  let apiKey: string;
  const compiled: Record<string, Promise<void>> = {};
  /** Each configuration is compiled once; the Node and Chromium runs use the node16 build's out/. */
  const compile = (resolution: string) => (compiled[resolution] ??= tsc(folder, `tsconfig.${resolution}.json`));

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'payments-client-consumer-'));
    expect(path.relative(REPO, folder).startsWith('..')).toBe(true);
    // npm test built dist/ before any suite ran; packing without prepack keeps this suite from
    // rewriting the dist/ that the other suites import while they run.
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', folder], { cwd: path.join(REPO, 'clients/typescript') });
    for (const dependency of runtimeDependencies('@payments/client')) {
      await run('npm', ['pack', '--pack-destination', folder, path.join(REPO, 'node_modules', dependency)], { cwd: folder });
    }
    const tarballs = (await readdir(folder)).filter((file) => file.endsWith('.tgz'));
    expect(tarballs).toContain('payments-client-0.1.0.tgz');
    await writeFile(path.join(folder, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs.map((file) => `./${file}`)], { cwd: folder });
    await mkdir(path.join(folder, 'src'));
    await writeFile(path.join(folder, 'src/payments.ts'), CONSUMER_PAYMENTS);
    await writeFile(path.join(folder, 'src/node.ts'), CONSUMER_NODE);
    await writeFile(path.join(folder, 'src/browser.ts'), CONSUMER_BROWSER);
    await writeFile(path.join(folder, 'tsconfig.node16.json'), tsconfig('node16', 'node16', true));
    await writeFile(path.join(folder, 'tsconfig.bundler.json'), tsconfig('esnext', 'bundler', false));

    app = await TestApp.start();
    const admin = new PaymentsAdminClient({ baseUrl: app.baseUrl, adminToken: ADMIN_TOKEN });
    apiKey = (await admin.createMerchant({ name: 'package consumer' })).data.api_key!;
  }, SLOW_MS);

  afterAll(async () => {
    await app?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('installs with its types and only what it needs', async () => {
    const installed = JSON.parse(await readFile(path.join(folder, 'node_modules/@payments/client/package.json'), 'utf8')) as {
      name: string;
    };
    expect(installed.name).toBe('@payments/client');
    const files = await readdir(path.join(folder, 'node_modules/@payments/client/dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
    expect(files.some((file) => file.includes('.spec.'))).toBe(false);
  });

  it.each([['node16'], ['bundler']])(
    'compiles under tsc --strict with moduleResolution %s',
    async (resolution) => {
      await compile(resolution);
    },
    SLOW_MS,
  );

  it(
    'runs under Node against the service: a charge, its replay under the same key, a decided decline',
    async () => {
      await compile('node16');
      const { stdout } = await run(process.execPath, ['out/node.js'], {
        cwd: folder,
        env: { PATH: process.env.PATH ?? '', PAYMENTS_URL: app.baseUrl, PAYMENTS_API_KEY: apiKey },
      });
      expect(JSON.parse(stdout)).toEqual({
        chargeStatus: 'succeeded',
        replayed: true,
        balance: 600,
        etag: expect.stringMatching(/^"\d+"$/),
        declined: 'insufficient_funds',
        budget: 500,
      });
    },
    SLOW_MS,
  );

  it(
    'runs in Chromium as an ES module page, and refuses a secret key there unless allowed',
    async () => {
      if (CHROMIUM === undefined) {
        const message = missingBinaryMessage(['chromium'], 'apt-get install -y chromium', 'SKIP_BROWSER_TESTS', 'The package browser test');
        if (message !== undefined) throw new Error(message);
        return;
      }
      await compile('node16');
      const server = pageServer(folder, new URL(app.baseUrl));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (error) => errors.push(error.message));
        await page.goto(`http://127.0.0.1:${port}/index.html#key=${encodeURIComponent(apiKey)}`);
        await page.waitForFunction(() => (window as unknown as { outcome?: unknown }).outcome !== undefined, undefined, {
          timeout: 30_000,
        });
        const outcome = await page.evaluate(() => (window as unknown as { outcome: unknown }).outcome);
        expect(errors).toEqual([]);
        expect(outcome).toEqual({
          refused: expect.stringContaining('dangerouslyAllowBrowser'),
          chargeStatus: 'succeeded',
          replayed: true,
          balance: 600,
          etag: expect.stringMatching(/^"\d+"$/),
          declined: 'insufficient_funds',
          budget: 500,
        });
      } finally {
        await browser.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
    SLOW_MS,
  );
});

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
};

/** The consumer's page and files, with /v1 forwarded to the service so the page's calls are same-origin. */
function pageServer(folder: string, service: URL): Server {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>consumer</title>
<script type="importmap">${JSON.stringify({
    imports: {
      '@payments/client': '/node_modules/@payments/client/dist/index.js',
      'openapi-fetch': '/node_modules/openapi-fetch/dist/index.mjs',
    },
  })}</script>
<script type="module" src="/out/browser.js"></script></head><body></body></html>`;
  return createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://page.invalid');
    if (url.pathname.startsWith('/v1/')) {
      const upstream = forward(
        { host: service.hostname, port: service.port, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      request.pipe(upstream);
      return;
    }
    if (url.pathname === '/index.html') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page);
      return;
    }
    const file = path.join(folder, path.normalize(url.pathname));
    const type = CONTENT_TYPES[path.extname(file)];
    if (!file.startsWith(folder + path.sep) || type === undefined) {
      response.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (content) => response.writeHead(200, { 'content-type': type }).end(content),
      () => response.writeHead(404).end(),
    );
  });
}
