import { EventsModule } from '../events/events.module.js';
import { Module } from '@nestjs/common';
import { AccountsModule } from '../accounts/accounts.module.js';
import { LedgerCheckRepository } from './ledger-check.repository.js';
import { LedgerCheckService } from './ledger-check.service.js';
import { LedgerController } from './ledger.controller.js';
import { LedgerRepository } from './ledger.repository.js';
import { LedgerService } from './ledger.service.js';

@Module({
  imports: [AccountsModule, EventsModule],
  controllers: [LedgerController],
  providers: [LedgerRepository, LedgerService, LedgerCheckRepository, LedgerCheckService],
  exports: [LedgerCheckService],
})
export class LedgerModule {}
