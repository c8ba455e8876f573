import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/auth.decorators.js';
import { ApiNoAuth, ApiProblems } from '../common/openapi.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('operations')
@Public()
@ApiNoAuth()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    operationId: 'getMetrics',
    summary: 'Prometheus metrics.',
    description:
      "http_requests_total and http_request_duration_seconds by method, route and status; idempotency_requests_total by outcome; charges_total by kind (wallet, card) and outcome; charge_duration_seconds; the card charges' acquirer_requests_total and card_charge_keys.",
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({
    description: 'Prometheus text exposition format 0.0.4.',
    schema: { type: 'string' },
    example:
      '# HELP charges_total Charges by kind and outcome.\n# TYPE charges_total counter\ncharges_total{kind="wallet",outcome="succeeded"} 42\n',
  })
  // A collector that fails makes the scrape a 500.
  @ApiProblems('validation_failed', 'internal_error')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
