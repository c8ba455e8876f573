import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

// The other build of an A/B run: a git ref checked out in a worktree of its own under
// .data/bench-ab/ (git-ignored), with its dependencies and `nest build`. Only its compiled service
// (dist/src/main.js) is used: the bench of this checkout drives both builds, so the ref's own bench
// code may differ or be absent.

const execFileAsync = promisify(execFile);
const BUILT_MARK = '.bench-built';
const INSTALLED_MARK = '.bench-installed';

export interface OtherBuild {
  /** The worktree, where `node dist/src/main.js` starts the ref's service. */
  dir: string;
  commit: string;
  /** The ref as given, its short commit and subject: "ad8c3be (main~22): Merge the fleet…". */
  label: string;
  /** Removes the worktree (not when the run was asked to keep it). */
  remove(): Promise<void>;
}

const git = async (cwd: string, ...args: string[]) =>
  (await execFileAsync('git', args, { cwd, maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

export async function prepareOtherBuild(
  repo: string,
  ref: string,
  options: { keep: boolean; log: (line: string) => void },
): Promise<OtherBuild> {
  const { log } = options;
  const commit = await git(repo, 'rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`).catch(() => {
    throw new Error(`--against ${ref}: no such commit in this repository`);
  });
  const short = commit.slice(0, 7);
  const subject = await git(repo, 'log', '-1', '--format=%s', commit);
  const dir = path.join(repo, '.data', 'bench-ab', commit.slice(0, 12));
  if (!existsSync(path.join(dir, '.git'))) {
    await mkdir(path.dirname(dir), { recursive: true });
    // A worktree whose directory was deleted is still registered until pruned.
    await git(repo, 'worktree', 'prune');
    log(`checking out ${ref} (${short}) in ${path.relative(repo, dir)}`);
    await git(repo, 'worktree', 'add', '--detach', '--force', dir, commit);
  }
  await installDependencies(repo, dir, log);
  if ((await readFile(path.join(dir, BUILT_MARK), 'utf8').catch(() => '')) !== commit) {
    log(`building ${short} (nest build)`);
    await execFileAsync(path.join(dir, 'node_modules', '.bin', 'nest'), ['build'], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    await writeFile(path.join(dir, BUILT_MARK), commit);
  }
  if (!existsSync(path.join(dir, 'dist', 'src', 'main.js')))
    throw new Error(`${short} built no dist/src/main.js: it cannot be run as a service`);
  return {
    dir,
    commit,
    label: `${short}${ref === short || commit.startsWith(ref) ? '' : ` (${ref})`}: ${subject.length > 60 ? `${subject.slice(0, 57)}…` : subject}`,
    remove: async () => {
      if (options.keep) return;
      // The shared node_modules is a link: unlink it, so that nothing can remove what it points to.
      await unlink(path.join(dir, 'node_modules')).catch(() => undefined);
      await git(repo, 'worktree', 'remove', '--force', dir).catch(() => rm(dir, { recursive: true, force: true }));
    },
  };
}

/**
 * This checkout's node_modules when the ref's package-lock.json is the same, linked, not copied;
 * otherwise `npm ci` there, from npm's cache first.
 */
async function installDependencies(repo: string, dir: string, log: (line: string) => void): Promise<void> {
  const modules = path.join(dir, 'node_modules');
  if (existsSync(path.join(dir, INSTALLED_MARK))) return;
  await rm(modules, { recursive: true, force: true });
  const [ours, theirs] = await Promise.all([
    readFile(path.join(repo, 'package-lock.json'), 'utf8'),
    readFile(path.join(dir, 'package-lock.json'), 'utf8'),
  ]);
  if (ours === theirs) {
    log('same package-lock.json: using this checkout’s node_modules');
    await symlink(path.join(repo, 'node_modules'), modules, 'dir');
    await writeFile(path.join(dir, INSTALLED_MARK), '');
    return;
  }
  log('another package-lock.json: npm ci (from the cache, else the registry)');
  const ci = (...more: string[]) =>
    execFileAsync('npm', ['ci', '--no-audit', '--no-fund', ...more], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, CI: '1' },
    });
  try {
    await ci('--offline');
  } catch {
    await rm(modules, { recursive: true, force: true });
    await ci();
  }
  await writeFile(path.join(dir, INSTALLED_MARK), '');
}
