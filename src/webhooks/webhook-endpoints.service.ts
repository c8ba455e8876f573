import { Inject, Injectable } from '@nestjs/common';
import { PreconditionFailedError, PreconditionRequiredError } from '../accounts/accounts.errors.js';
import type { IfMatch } from '../accounts/etag.js';
import { NotFoundError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { ListPage, ListQueryDto, listPage } from '../common/pagination.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { SqlTransaction } from '../database/sql.js';
import type {
  CreateWebhookEndpointDto,
  DeletedWebhookEndpointDto,
  UpdateWebhookEndpointDto,
  WebhookEndpointDto,
} from './dto/webhook-endpoint.dto.js';
import { EndpointRow, WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { newWebhookSecret } from './webhook-signature.js';
import { webhookUrlProblem } from './webhook-url.js';
import { webhookUrlError } from './webhooks.errors.js';

/** The endpoint as the API shows it: the secret only where it was just made (`shown`). */
function toEndpointDto(row: EndpointRow, shown: 'secret' | 'hidden' = 'hidden'): WebhookEndpointDto {
  return {
    id: row.id,
    object: 'webhook_endpoint',
    url: row.url,
    events: row.events,
    description: row.description,
    status: row.status,
    disabled_reason: row.disabled_reason,
    secret: shown === 'secret' ? row.secret : null,
    previous_secret_expires_at: row.previous_secret_expires_at?.toISOString() ?? null,
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(tx: SqlTransaction, merchantId: string, body: CreateWebhookEndpointDto): Promise<WebhookEndpointDto> {
    this.checkUrl(body.url);
    const row = await this.endpoints.create(tx, merchantId, {
      id: newId('we'),
      url: body.url,
      events: body.events,
      description: body.description ?? null,
      secret: newWebhookSecret(),
    });
    return toEndpointDto(row, 'secret');
  }

  async get(merchantId: string, id: string): Promise<WebhookEndpointDto> {
    const row = await this.endpoints.find(merchantId, id);
    if (!row) throw new NotFoundError('webhook endpoint', id);
    return toEndpointDto(row);
  }

  async list(merchantId: string, query: ListQueryDto): Promise<ListPage<WebhookEndpointDto>> {
    return listPage(
      query,
      {
        what: 'webhook endpoint',
        positionOf: (id) => this.endpoints.seqOf(merchantId, id),
        rows: (limit, afterSeq) => this.endpoints.list(merchantId, limit, afterSeq),
      },
      (row) => toEndpointDto(row),
    );
  }

  /** Changes under If-Match, as an account's (412 stale, 428 missing); identical content is a 200 whatever it says. */
  async update(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    body: UpdateWebhookEndpointDto,
    ifMatch: IfMatch | undefined,
  ): Promise<WebhookEndpointDto> {
    if (body.url !== undefined) this.checkUrl(body.url);
    const changes = { url: body.url, events: body.events, description: body.description, status: body.status };
    const current = await this.endpoints.findIn(tx, merchantId, id);
    if (!current) throw new NotFoundError('webhook endpoint', id);
    if (unchanged(current, changes)) return toEndpointDto(current);
    if (ifMatch === undefined) throw new PreconditionRequiredError(current.version);
    const updated = await this.endpoints.updateIfVersion(tx, merchantId, id, 'any' in ifMatch ? null : ifMatch.versions, changes);
    if (updated) return toEndpointDto(updated);
    throw new PreconditionFailedError(current.version, 'If-Match does not match the current version of the webhook endpoint.');
  }

  /** Stops deliveries to it at once (disabled_reason requested); disabling a disabled endpoint leaves it as it is. */
  async disable(tx: SqlTransaction, merchantId: string, id: string): Promise<WebhookEndpointDto> {
    const current = await this.endpoints.findIn(tx, merchantId, id);
    if (!current) throw new NotFoundError('webhook endpoint', id);
    if (current.status === 'disabled') return toEndpointDto(current);
    const updated = await this.endpoints.updateIfVersion(tx, merchantId, id, null, {
      url: undefined,
      events: undefined,
      description: undefined,
      status: 'disabled',
    });
    return toEndpointDto(updated!);
  }

  async rollSecret(tx: SqlTransaction, merchantId: string, id: string, expiresInSeconds: number | undefined): Promise<WebhookEndpointDto> {
    const overlap = expiresInSeconds ?? this.config.webhookSecretOverlapSeconds;
    const row = await this.endpoints.rollSecret(tx, merchantId, id, newWebhookSecret(), overlap);
    if (!row) throw new NotFoundError('webhook endpoint', id);
    return toEndpointDto(row, 'secret');
  }

  async delete(tx: SqlTransaction, merchantId: string, id: string): Promise<DeletedWebhookEndpointDto> {
    if (!(await this.endpoints.delete(tx, merchantId, id))) throw new NotFoundError('webhook endpoint', id);
    return { id, object: 'webhook_endpoint', deleted: true };
  }

  private checkUrl(url: string): void {
    const problem = webhookUrlProblem(url, this.config.webhookAllowHttpLoopback);
    if (problem) throw webhookUrlError(problem);
  }
}

function unchanged(row: EndpointRow, changes: UpdateWebhookEndpointDto): boolean {
  const sameEvents =
    changes.events === undefined ||
    (changes.events.length === row.events.length && changes.events.every((type) => row.events.includes(type)));
  return (
    (changes.url === undefined || changes.url === row.url) &&
    sameEvents &&
    (changes.description === undefined || changes.description === row.description) &&
    (changes.status === undefined || changes.status === row.status)
  );
}
