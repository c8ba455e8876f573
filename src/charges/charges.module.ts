import { EventsModule } from '../events/events.module.js';
import { Module } from '@nestjs/common';
import { CardChargesModule } from '../card-charges/card-charges.module.js';
import { BatchChargesService } from './batch-charges.service.js';
import { ChargesController } from './charges.controller.js';
import { ChargesRepository } from './charges.repository.js';
import { ChargesService } from './charges.service.js';

@Module({
  imports: [CardChargesModule, EventsModule],
  controllers: [ChargesController],
  providers: [ChargesRepository, ChargesService, BatchChargesService],
})
export class ChargesModule {}
