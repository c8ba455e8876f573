import { parseOptions } from '../bench/options.js';

// The bench's command line: what each flag means, and what it refuses before a run starts.
describe('bench options', () => {
  it('runs one build, full length, without flags', () => {
    expect(parseOptions([])).toMatchObject({
      seconds: 10,
      rounds: 3,
      warmup: 30,
      cold: 15,
      connections: 16,
      against: undefined,
      profile: false,
    });
  });

  it('shortens every phase with --quick, and a flag given still wins over it', () => {
    expect(parseOptions(['--quick'])).toMatchObject({ seconds: 5, warmup: 10, cold: 5, rounds: 1 });
    expect(parseOptions(['--quick', '--seconds', '8'])).toMatchObject({ seconds: 8, warmup: 10 });
  });

  it('runs two builds with --against, two alternations and a memory window of 2 000 answers unless told', () => {
    expect(parseOptions(['--against', 'ad8c3be'])).toMatchObject({ against: 'ad8c3be', alternations: 2, window: 2000, keepBuild: false });
    expect(parseOptions(['--against', 'main~3', '--alternations', '3', '--window', '500', '--keep-build', '--quick'])).toMatchObject({
      against: 'main~3',
      alternations: 3,
      window: 500,
      keepBuild: true,
      seconds: 5,
    });
    expect(parseOptions(['--against', '9881f9f^', '--with', '9881f9f'])).toMatchObject({ against: '9881f9f^', with: '9881f9f' });
    expect(parseOptions(['--against', 'main']).with).toBeUndefined();
  });

  it('refuses an A/B flag without --against, and a single-build flag with it', () => {
    expect(() => parseOptions(['--alternations', '2'])).toThrow('--alternations is only for an A/B run (--against <ref>)');
    expect(() => parseOptions(['--keep-build'])).toThrow('--keep-build is only for an A/B run');
    expect(() => parseOptions(['--with', 'main'])).toThrow('--with is only for an A/B run');
    expect(() => parseOptions(['--against', 'main', '--keys', '1000'])).toThrow(
      '--keys is only for a single-build run, not with --against',
    );
    expect(() => parseOptions(['--against', 'main', '--profile'])).toThrow('--profile is only for a single-build run');
  });

  it('runs a single server beside a primary with a synchronous standby with --sync-standby, two alternations unless told', () => {
    expect(parseOptions([])).toMatchObject({ syncStandby: false });
    expect(parseOptions(['--sync-standby'])).toMatchObject({
      syncStandby: true,
      alternations: 2,
      seconds: 10,
      warmup: 30,
      connections: 16,
    });
    expect(parseOptions(['--sync-standby', '--quick', '--alternations', '3', '--connections', '8'])).toMatchObject({
      syncStandby: true,
      alternations: 3,
      seconds: 5,
      warmup: 10,
      connections: 8,
    });
  });

  it('refuses --sync-standby with --against, and the flags of the other runs with it', () => {
    expect(() => parseOptions(['--sync-standby', '--against', 'main'])).toThrow('--sync-standby cannot be combined with --against');
    expect(() => parseOptions(['--against', 'main', '--sync-standby'])).toThrow('--sync-standby cannot be combined with --against');
    expect(() => parseOptions(['--sync-standby', '--rounds', '2'])).toThrow(
      '--rounds is only for a single-build run, not with --sync-standby',
    );
    expect(() => parseOptions(['--sync-standby', '--keys', '1000'])).toThrow(
      '--keys is only for a single-build run, not with --sync-standby',
    );
    expect(() => parseOptions(['--sync-standby', '--window', '500'])).toThrow(
      '--window is only for an A/B run (--against <ref>), not with --sync-standby',
    );
    expect(() => parseOptions(['--sync-standby', '--with', 'main'])).toThrow('--with is only for an A/B run');
    expect(() => parseOptions(['--alternations', '2'])).toThrow(
      '--alternations is only for an A/B run (--against <ref>) or a --sync-standby run',
    );
  });

  it('refuses what is not a whole number, a number below its least, an unknown flag and a ref that is not one', () => {
    expect(() => parseOptions(['--seconds', '2.5'])).toThrow('--seconds must be a whole number of at least 1, got "2.5"');
    expect(() => parseOptions(['--seconds', '0'])).toThrow('--seconds must be a whole number of at least 1');
    expect(() => parseOptions(['--against', 'main', '--alternations', '0'])).toThrow('--alternations must be a whole number of at least 1');
    expect(() => parseOptions(['--speed'])).toThrow();
    expect(() => parseOptions(['--against', 'main; rm -rf /'])).toThrow('--against must be a git ref');
    expect(() => parseOptions(['--against', 'main', '--with', '$(id)'])).toThrow('--with must be a git ref');
    expect(() => parseOptions(['--against', '--quick'])).toThrow();
  });
});
