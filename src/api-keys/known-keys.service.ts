import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { hashApiKey, merchantIdOfApiKey } from './api-key.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { KnownKeys, type KnownKey } from './known-keys.js';

const MAX_ENTRIES = 10_000;

/**
 * Which key a bearer token is, for the guard: from this instance's memory (no round trip) while
 * it is fresh, from the database otherwise. See KnownKeys for the bound on revocation.
 */
@Injectable()
export class KnownKeysService {
  private readonly known: KnownKeys;

  constructor(
    private readonly keys: ApiKeysRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.known = new KnownKeys(config.apiKeyCacheMs, MAX_ENTRIES);
  }

  /** The key, with its hash (what rate limits count by), or undefined for no valid key. */
  async identify(token: string): Promise<(KnownKey & { hash: string }) | undefined> {
    const merchantId = merchantIdOfApiKey(token);
    if (!merchantId) return undefined;
    const hash = hashApiKey(token);
    const remembered = this.known.get(hash);
    if (remembered) return 'known' in remembered ? { ...remembered.known, hash } : undefined;

    const row = await this.keys.findValid(merchantId, hash);
    if (!row) {
      this.known.rememberUnknown(hash);
      return undefined;
    }
    const key = { merchantId, keyId: row.id, scopes: row.scopes };
    this.known.remember(hash, key, row.expires_in_ms);
    return { ...key, hash };
  }

  forget(hash: string): void {
    this.known.forget(hash);
  }
}
