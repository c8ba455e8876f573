import { Module } from '@nestjs/common';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { KnownKeysService } from './known-keys.service.js';

@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeysRepository, ApiKeysService, KnownKeysService],
  // The guard (an APP_GUARD of the app module) identifies keys through KnownKeysService.
  exports: [KnownKeysService],
})
export class ApiKeysModule {}
