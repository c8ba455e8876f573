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
