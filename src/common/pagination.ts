import { Type as ClassType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsString, Length, Max, Min } from 'class-validator';
import { Optional } from './validators.js';
import { NotFoundError } from './domain-error.js';

export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;

// One message whichever check fails: with stopAtFirstError the first failure reported is Max's,
// so `limit=abc` (NaN) was answered "must not be greater than 100".
const LIMIT_RANGE = { message: `limit must be an integer between 1 and ${MAX_LIMIT}` };

/** `?limit=1..100&starting_after=<id>`: newest first, cursor after the given object. */
export class ListQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_LIMIT,
    example: 20,
    description: `Objects per page, 1 to ${MAX_LIMIT}; ${DEFAULT_LIMIT} when left out.`,
  })
  @Optional()
  @Type(() => Number)
  @IsInt(LIMIT_RANGE)
  @Min(1, LIMIT_RANGE)
  @Max(MAX_LIMIT, LIMIT_RANGE)
  limit?: number;

  @ApiPropertyOptional({ description: 'Id of the last object of the previous page.', maxLength: 100 })
  @Optional()
  @IsString()
  @Length(1, 100)
  starting_after?: string;
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

export interface PageSource<Row> {
  /** What the list holds, for the 404 of an unknown cursor ("account", "charge", ...). */
  what: string;
  /** The position (seq) of the cursor object, or undefined when the merchant has no such object. */
  positionOf(id: string): Promise<string | undefined>;
  /** Up to `limit` rows after `afterSeq` (newest first): repositories fetch limit + 1 rows. */
  rows(limit: number, afterSeq: string | undefined): Promise<Row[]>;
}

/** One page of a list: resolve the cursor, fetch one row more than asked to know whether there is more. */
export async function listPage<Row, T>(query: ListQueryDto, source: PageSource<Row>, map: (row: Row) => T): Promise<ListPage<T>> {
  const limit = query.limit ?? DEFAULT_LIMIT;
  let afterSeq: string | undefined;
  if (query.starting_after !== undefined) {
    afterSeq = await source.positionOf(query.starting_after);
    if (afterSeq === undefined) throw new NotFoundError(source.what, query.starting_after);
  }
  const rows = await source.rows(limit, afterSeq);
  return { object: 'list', data: rows.slice(0, limit).map(map), has_more: rows.length > limit };
}

/** The OpenAPI schema of a list of `item`. */
export function ListOf<T>(item: ClassType<T>): ClassType<ListPage<T>> {
  class List implements ListPage<T> {
    @ApiProperty({ enum: ['list'] }) object: 'list';
    @ApiProperty({ type: [item] }) data: T[];
    @ApiProperty() has_more: boolean;
  }
  Object.defineProperty(List, 'name', { value: `${item.name.replace(/Dto$/, '')}ListDto` });
  return List;
}
