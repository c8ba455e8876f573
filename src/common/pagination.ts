import { Type as ClassType } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

/** `?limit=1..100&starting_after=<id>`: newest first, cursor after the given object. */
export class ListQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'Id of the last object of the previous page.', maxLength: 100 })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  starting_after?: string;
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
}

/** Repositories fetch limit + 1 rows; the extra one only says whether there is more. */
export function toPage<Row, T>(rows: Row[], limit: number, map: (row: Row) => T): ListPage<T> {
  return { object: 'list', data: rows.slice(0, limit).map(map), has_more: rows.length > limit };
}

export const DEFAULT_LIMIT = 10;

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
