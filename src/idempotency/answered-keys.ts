/**
 * The keys this process has answered (recorded or replayed), kept long after their answers have
 * left the replay map: a Bloom filter in two generations, a few bits a key.
 *
 * Why: a replay of a key whose answer is no longer in memory would otherwise take the new key's
 * way — the claim in flight with the handler's first statement, refused, rolled back — which costs
 * the service twice the CPU of reading the record. A key this filter knows is read first, in one
 * round trip outside any transaction, and the handler never runs. A key it does not know (new, or
 * answered by another instance) takes the new key's way, which is right for both.
 *
 * A Bloom filter answers "maybe" for a key it never saw, about one in a thousand at the sizes
 * below: such a new key pays the one round trip of a lookup that finds nothing, and goes on. It
 * never answers "no" for a key added in the last generation or the one before, so within that
 * window every replay takes the short way. Each generation holds `keysPerGeneration` keys; when
 * the current one is full the previous is dropped, so memory stays fixed.
 */
export class AnsweredKeys {
  private current: Uint32Array;
  private previous: Uint32Array;
  private added = 0;
  private readonly bits: number;

  constructor(
    private readonly keysPerGeneration = 500_000,
    bitsPerKey = 15,
    private readonly hashes = 10,
  ) {
    // 15 bits and 10 hashes a key: a false "maybe" about once in 1 400 keys per full generation.
    this.bits = Math.max(32, Math.ceil((keysPerGeneration * bitsPerKey) / 32) * 32);
    this.current = new Uint32Array(this.bits / 32);
    this.previous = new Uint32Array(this.bits / 32);
  }

  add(merchantId: string, key: string): void {
    if (this.added >= this.keysPerGeneration) {
      [this.previous, this.current] = [this.current, this.previous];
      this.current.fill(0);
      this.added = 0;
    }
    this.forEachBit(merchantId, key, (word, mask) => {
      this.current[word]! |= mask;
      return true;
    });
    this.added += 1;
  }

  /** False: this process has not answered the key lately. True: it probably has. */
  mayHave(merchantId: string, key: string): boolean {
    return (
      this.forEachBit(merchantId, key, (word, mask) => (this.current[word]! & mask) !== 0) ||
      this.forEachBit(merchantId, key, (word, mask) => (this.previous[word]! & mask) !== 0)
    );
  }

  /** Calls `visit` for each of the key's bits while it returns true; whether all returned true. */
  private forEachBit(merchantId: string, key: string, visit: (word: number, mask: number) => boolean): boolean {
    // Two 32-bit FNV-1a hashes of different seeds, combined as h1 + i·h2 (Kirsch and Mitzenmacher).
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193 ^ 0x5bd1e995;
    const mix = (code: number) => {
      h1 = Math.imul(h1 ^ code, 0x01000193);
      h2 = Math.imul(h2 ^ code, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    };
    for (let i = 0; i < merchantId.length; i++) mix(merchantId.charCodeAt(i));
    mix(0x0a);
    for (let i = 0; i < key.length; i++) mix(key.charCodeAt(i));
    h1 >>>= 0;
    h2 = (h2 | 1) >>> 0;
    for (let i = 0; i < this.hashes; i++) {
      const bit = (h1 + i * h2) % this.bits;
      if (!visit(bit >>> 5, 1 << (bit & 31))) return false;
    }
    return true;
  }
}
