import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http';

// A gateway between a caller and the payments service, as nginx, a cloud load balancer or an API
// gateway stands there, run as a process of its own (`node dist/testing/gateway/gateway-main.js
// <service port>`). It forwards every request to the service and reads the service's whole answer,
// so what the service does is done and committed; then, while faults are queued for the request's
// method and path, it answers the caller itself instead:
//   - `502-html`: 502 Bad Gateway with nginx's HTML error page;
//   - `504-json`: 504 with an API gateway's JSON body, {"message": "Endpoint request timed out"};
//   - `reset`: the caller's connection is reset (TCP RST), no answer at all.
// POST /__gateway/faults {fault, count, method?, path?} queues faults; GET /__gateway/stats counts.
// It prints "listening <port>" once it listens on a free loopback port.

export type GatewayFault = '502-html' | '504-json' | 'reset';

export interface QueuedFaults {
  fault: GatewayFault;
  count: number;
  /** Only requests with this method and path get the fault (default POST /v1/charges: the charge). */
  method?: string;
  path?: string;
}

export interface GatewayStats {
  forwarded: number;
  faulted: number;
  pending: number;
}

const NGINX_502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.27.4</center>
</body>
</html>
`;

const servicePort = Number(process.argv[2]);
if (!Number.isInteger(servicePort) || servicePort <= 0) throw new Error('usage: gateway-main.js <service port>');

const queue: Required<QueuedFaults>[] = [];
const stats = { forwarded: 0, faulted: 0 };

function readBody(message: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    message.on('data', (chunk: Buffer) => chunks.push(chunk));
    message.on('end', () => resolve(Buffer.concat(chunks)));
    message.on('error', reject);
  });
}

function control(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
  if (request.method === 'POST' && request.url === '/__gateway/faults') {
    const faults = JSON.parse(body.toString()) as QueuedFaults;
    queue.push({ method: 'POST', path: '/v1/charges', ...faults });
    response.writeHead(204).end();
  } else if (request.method === 'DELETE' && request.url === '/__gateway/faults') {
    queue.length = 0;
    response.writeHead(204).end();
  } else {
    const pending = queue.reduce((sum, faults) => sum + faults.count, 0);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...stats, pending } satisfies GatewayStats));
  }
}

/** The next queued fault for this request, taken off the queue. */
function takeFault(request: IncomingMessage): GatewayFault | undefined {
  const path = new URL(request.url ?? '/', 'http://gateway.invalid').pathname;
  const faults = queue.find((queued) => queued.count > 0 && queued.method === request.method && queued.path === path);
  if (!faults) return undefined;
  faults.count--;
  if (faults.count === 0) queue.splice(queue.indexOf(faults), 1);
  return faults.fault;
}

const server = createServer((request, response) => {
  readBody(request)
    .then((body) => {
      if (request.url?.startsWith('/__gateway/')) return control(request, response, body);
      const upstream = forward(
        { host: '127.0.0.1', port: servicePort, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          readBody(answer)
            .then((answerBody) => {
              stats.forwarded++;
              // The service has answered, so whatever it did is committed. Now the gateway decides what the caller hears.
              const fault = takeFault(request);
              if (fault === undefined) {
                response.writeHead(answer.statusCode ?? 502, answer.headers).end(answerBody);
                return;
              }
              stats.faulted++;
              if (fault === 'reset') request.socket.resetAndDestroy();
              else if (fault === '502-html')
                response.writeHead(502, { 'content-type': 'text/html', server: 'nginx/1.27.4' }).end(NGINX_502);
              else {
                response
                  .writeHead(504, { 'content-type': 'application/json', 'x-amzn-errortype': 'IntegrationTimeout' })
                  .end(JSON.stringify({ message: 'Endpoint request timed out' }));
              }
            })
            .catch(() => request.socket.destroy());
        },
      );
      upstream.on('error', () => {
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/html' }).end(NGINX_502);
      });
      upstream.end(body);
    })
    .catch(() => request.socket.destroy());
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  process.stdout.write(`listening ${address.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
