import { Module } from '@nestjs/common';
import { DeliveryWorkerService } from './delivery-worker.service.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookEndpointsController } from './webhook-endpoints.controller.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

@Module({
  controllers: [WebhookEndpointsController],
  providers: [WebhookEndpointsRepository, WebhookEndpointsService, WebhookDeliveriesRepository, DeliveryWorkerService],
  exports: [DeliveryWorkerService],
})
export class WebhooksModule {}
