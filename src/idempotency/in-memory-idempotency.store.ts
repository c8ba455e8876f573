import type { KeyedCall, KeyRef, RecordedResponse, RecordTimes, StoredKey } from './idempotency.repository.js';
import type { ClaimAnswer, IdempotencyStore, OpenedKey } from './idempotency.service.js';

/** A statement of a transaction whose opening failed: it took no effect (OpeningFailedError in Sql). */
export class RefusedStatementError extends Error {}

/** A transaction of the in-memory store: effects are kept aside until the record commits them. */
export class InMemoryTransaction {
  readonly effects: string[] = [];

  constructor(
    private readonly claim: Promise<ClaimAnswer>,
    private readonly failNext: () => Error | undefined,
  ) {}

  /** The handler's statement: takes effect only if the key was claimed, and only at commit. */
  async statement(effect: string): Promise<void> {
    const failure = this.failNext();
    const claim = await this.claim;
    if (!claim.claimed) throw new RefusedStatementError('the claim was refused');
    if (failure !== undefined) throw failure;
    this.effects.push(effect);
  }
}

interface Row {
  fingerprint: string;
  response: RecordedResponse | undefined;
  createdAt: number;
  expiresAt: number;
}

/**
 * IdempotencyStore in memory, for IdempotencyService's unit tests: the same rules as PostgreSQL's
 * (a key's lock held by the request that runs, expiry counted as absence, the record committed with
 * the effects), with a clock the test moves.
 */
export class InMemoryIdempotencyStore implements IdempotencyStore<InMemoryTransaction> {
  readonly rows = new Map<string, Row>();
  readonly locks = new Set<string>();
  /** Effects committed with their record, in order. */
  readonly committed: string[] = [];
  /** Milliseconds on the store's (the database's) clock. */
  now = 1_000_000;
  /** Set to make the claim fail as the database would when unavailable. */
  claimFailure: Error | undefined;
  /** Set to make the next statement of a claimed transaction fail. */
  statementFailure: Error | undefined;
  /** As a server whose commits wait for a synchronous standby: records say standbyConfirms. */
  commitsThroughStandby = false;
  /** Calls of confirmOnStandby, and what the next one does (the standby unreachable: it fails). */
  standbyConfirmations = 0;
  standbyFailure: Error | undefined;

  constructor(private readonly ttlSeconds = 60) {}

  open(call: KeyedCall): Promise<OpenedKey<InMemoryTransaction>> {
    const id = idOf(call);
    const found = this.live(id); // the lookup sent ahead of the claim
    let held = false;
    const claim = Promise.resolve().then((): ClaimAnswer => {
      if (this.claimFailure !== undefined) throw this.claimFailure;
      if (this.locks.has(id) || this.live(id)) return { claimed: false, stored: found };
      this.rows.delete(id); // an expired record counts as absent
      this.locks.add(id);
      held = true;
      return { claimed: true };
    });
    const transaction = new InMemoryTransaction(claim, () => {
      const failure = this.statementFailure;
      this.statementFailure = undefined;
      return failure;
    });
    const release = () => {
      if (held) this.locks.delete(id);
      held = false;
    };
    return Promise.resolve({
      transaction,
      claim,
      recordAndCommit: (response: RecordedResponse): Promise<RecordTimes | undefined> => {
        if (this.rows.has(id)) return Promise.resolve(undefined);
        const row = { fingerprint: call.fingerprint, response, createdAt: this.now, expiresAt: this.now + this.ttlSeconds * 1000 };
        this.rows.set(id, row);
        this.committed.push(...transaction.effects);
        release();
        return Promise.resolve(this.timesOf(row));
      },
      end: () => {
        release();
        return Promise.resolve();
      },
    });
  }

  find(key: KeyRef): Promise<StoredKey | undefined> {
    return Promise.resolve(this.live(idOf(key)));
  }

  look(key: KeyRef): Promise<{ stored: StoredKey | undefined; inFlight: boolean }> {
    return Promise.resolve({ stored: this.live(idOf(key)), inFlight: this.locks.has(idOf(key)) });
  }

  confirmOnStandby(): Promise<void> {
    this.standbyConfirmations += 1;
    return this.standbyFailure === undefined ? Promise.resolve() : Promise.reject(this.standbyFailure);
  }

  complete(call: KeyedCall, response: RecordedResponse): Promise<RecordTimes | undefined> {
    const row = this.rows.get(idOf(call));
    if (!row || row.fingerprint !== call.fingerprint || row.response || row.expiresAt <= this.now) return Promise.resolve(undefined);
    row.response = response;
    return Promise.resolve(this.timesOf(row));
  }

  /** A claim with no response yet, as the first item of a batch commits it. */
  claimForItems(call: KeyedCall): void {
    this.rows.set(idOf(call), {
      fingerprint: call.fingerprint,
      response: undefined,
      createdAt: this.now,
      expiresAt: this.now + this.ttlSeconds * 1000,
    });
  }

  private live(id: string): StoredKey | undefined {
    const row = this.rows.get(id);
    if (!row || row.expiresAt <= this.now) return undefined;
    return {
      fingerprint: row.fingerprint,
      response: row.response,
      ageSeconds: (this.now - row.createdAt) / 1000,
      standbyConfirms: this.commitsThroughStandby,
      ...this.timesOf(row),
    };
  }

  private timesOf(row: Row): RecordTimes {
    return { expiresAt: new Date(row.expiresAt), secondsLeft: (row.expiresAt - this.now) / 1000 };
  }
}

function idOf(key: KeyRef): string {
  return `${key.merchantId}\n${key.key}`;
}
