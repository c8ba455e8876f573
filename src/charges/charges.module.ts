import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { BatchChargesService } from './batch-charges.service.js';
import { ChargesController } from './charges.controller.js';
import { ChargesRepository } from './charges.repository.js';
import { ChargesService } from './charges.service.js';

@Module({
  imports: [IdempotencyModule],
  controllers: [ChargesController],
  providers: [ChargesRepository, ChargesService, BatchChargesService],
})
export class ChargesModule {}
