import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { UnavailableError } from '../common/domain-error.js';
import { ApiProblems, ApiSuccess } from '../common/openapi.js';
import { Public } from '../common/auth.decorators.js';

class HealthDto {
  @ApiProperty({ enum: ['ok'] }) status: 'ok';
}

const READY_TIMEOUT_MS = 2_000;

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  @Get('live')
  @ApiOperation({ summary: 'The process is up.' })
  @ApiSuccess({ status: 200, type: HealthDto, description: 'Alive.' })
  live(): HealthDto {
    return { status: 'ok' };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Ready to serve: the database answers.' })
  @ApiSuccess({ status: 200, type: HealthDto, description: 'Ready.' })
  @ApiProblems(503)
  async ready(): Promise<HealthDto> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError()), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.dataSource.query('SELECT 1'), timeout]);
      return { status: 'ok' };
    } catch {
      throw new UnavailableError();
    } finally {
      clearTimeout(timer);
    }
  }
}
