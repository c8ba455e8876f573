import { EventsModule } from '../events/events.module.js';
import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerRepository } from './ledger.repository.js';
import { LedgerService } from './ledger.service.js';

@Module({
  imports: [AccountsModule, EventsModule],
  controllers: [LedgerController],
  providers: [LedgerRepository, LedgerService],
})
export class LedgerModule {}
