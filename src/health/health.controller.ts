import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Sql } from '../database/sql.js';
import { UnavailableError } from '../common/domain-error.js';
import { ApiNoAuth, ApiProblems, ApiSuccess } from '../common/openapi.js';
import { Public } from '../common/auth.decorators.js';

class HealthDto {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
}

const READY_TIMEOUT_MS = 2_000;

@ApiTags('operations')
@Public()
@ApiNoAuth()
@Controller('health')
export class HealthController {
  constructor(private readonly sql: Sql) {}

  @Get('live')
  @ApiOperation({
    operationId: 'checkLiveness',
    summary: 'The process is up.',
    description: 'Answers without touching the database: for a liveness probe.',
  })
  @ApiSuccess({ status: 200, type: HealthDto, description: 'Alive.', example: { status: 'ok' } })
  // A query string the service refuses (a NUL) is a 400 on every route.
  @ApiProblems('validation_failed')
  live(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({
    operationId: 'checkReadiness',
    summary: 'Ready to serve: the database answers.',
    description: 'Runs SELECT 1 with a 2 s limit: for a readiness probe. 503 while the database cannot be reached.',
  })
  @ApiSuccess({ status: 200, type: HealthDto, description: 'Ready.', example: { status: 'ok' } })
  @ApiProblems('validation_failed', 'unavailable')
  async ready(): Promise<HealthDto> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError()), READY_TIMEOUT_MS);
    });
    try {
      // The request path's pool: what the requests this instance would be sent go through.
      await Promise.race([this.sql.query({ name: 'ready', text: 'SELECT 1' }), timeout]);
      return { status: 'ok' };
    } catch {
      throw new UnavailableError();
    } finally {
      clearTimeout(timer);
    }
  }
}
