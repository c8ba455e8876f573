import { Module } from '@nestjs/common';
import { AcquirerClient } from './acquirer.client.js';
import { CardChargesRepository } from './card-charges.repository.js';
import { CardChargesService } from './card-charges.service.js';
import { CardChargeTestHooks } from './card-charge-test-hooks.js';
import { CompleterService } from './completer.service.js';

@Module({
  providers: [AcquirerClient, CardChargesRepository, CardChargesService, CardChargeTestHooks, CompleterService],
  exports: [CardChargesService, CompleterService],
})
export class CardChargesModule {}
