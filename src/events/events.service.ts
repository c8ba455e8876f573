import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { ListPage, listPage } from '../common/pagination.js';
import type { SqlTransaction } from '../database/sql.js';
import type { EventDto, ListEventsQueryDto, RedeliveryDto } from './dto/event.dto.js';
import type { EventType } from './event-types.js';
import { EventRow, EventsRepository } from './events.repository.js';

export function toEventDto(row: EventRow): EventDto {
  return {
    id: row.id,
    object: 'event',
    type: row.type,
    created_at: row.created_at.toISOString(),
    data: { object: row.data },
    api_version: row.api_version,
  };
}

/**
 * The outbox: every effect records its event in its own transaction (record), and merchants read
 * them back for 30 days (get, list). Delivery is webhooks/.
 */
@Injectable()
export class EventsService {
  constructor(private readonly events: EventsRepository) {}

  /**
   * The effect's event, committed with it or not at all: sent with the transaction's COMMIT. Call it
   * once the effect's statement has answered (after a transaction's first statement, the key is the
   * request's own); a request whose transaction rolls back, or a replay, writes none.
   */
  record(tx: SqlTransaction, merchantId: string, type: EventType, object: object): void {
    this.events.recordWithCommit(tx, merchantId, { id: newId('evt'), type, object });
  }

  async get(merchantId: string, id: string): Promise<EventDto> {
    const row = await this.events.find(merchantId, id);
    if (!row) throw new NotFoundError('event', id);
    return toEventDto(row);
  }

  async list(merchantId: string, query: ListEventsQueryDto): Promise<ListPage<EventDto>> {
    const filter = { type: query.type, createdGte: query.created_gte, createdLt: query.created_lt };
    return listPage(
      query,
      {
        what: 'event',
        positionOf: (id) => this.events.seqOf(merchantId, id),
        rows: (limit, afterSeq) => this.events.list(merchantId, limit, afterSeq, filter),
      },
      toEventDto,
    );
  }

  /** A new delivery of the event to its endpoints (or one of them), starting the schedule afresh. */
  async redeliver(tx: SqlTransaction, merchantId: string, id: string, endpointId: string | undefined): Promise<RedeliveryDto> {
    const endpoints = await this.events.redeliver(tx, merchantId, id, endpointId ?? null);
    if (!endpoints) throw new NotFoundError('event', id);
    if (endpointId !== undefined && endpoints.length === 0) throw new NotFoundError('enabled webhook endpoint', endpointId);
    return { object: 'redelivery', event: id, endpoints };
  }
}
