/**
 * Linters as tests: shellcheck on every shell script in the repository, and dockerfile-utils
 * (the Dockerfile linter that installs from npm) on the Dockerfile. Each linter is first shown
 * a known mistake, so a linter that checks nothing cannot pass for a clean repository.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { peer } from '../helpers/peers.js';
import { ROOT } from '../helpers/process.js';

const shellcheck = peer('shellcheck', () => spawnSync('shellcheck', ['--version']).status === 0, 'apt-get install -y shellcheck');
const git = peer('a git checkout', () => spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).status === 0, 'run from a clone');

/** Tracked and new (not ignored) files that are shell scripts: *.sh, or a sh/bash shebang. */
function shellScripts(): string[] {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  return listed.stdout
    .split('\n')
    .filter((path) => path !== '' && !path.startsWith('node_modules/'))
    .filter((path) => {
      if (path.endsWith('.sh')) return true;
      const start = readFileSync(join(ROOT, path)).subarray(0, 64).toString('latin1');
      return /^#!\s*\/(usr\/)?bin\/(env\s+)?(ba|da)?sh\b/.test(start);
    });
}

const runShellcheck = (args: string[], input?: string) =>
  spawnSync('shellcheck', ['--format=gcc', ...args], { cwd: ROOT, input, encoding: 'utf8' });

describe.runIf(shellcheck.available && git.available)('shellcheck', () => {
  it('finds an unquoted variable (it is really checking)', () => {
    const result = runShellcheck(['-'], '#!/bin/sh\nrm -rf $1/cache\n');
    expect(result.status).not.toBe(0);
    expect(result.stdout).toContain('SC2086');
  });

  it('finds the launcher, the CI script and the scripts/ helpers', () => {
    expect(shellScripts()).toEqual(expect.arrayContaining(['bin/gatehouse', '.ci/run', 'scripts/install-node.sh', 'scripts/podman-stand-ins.sh']));
  });

  it('has nothing to say about any shell script in the repository, at every severity', () => {
    const result = runShellcheck(['--severity=style', '--external-sources', ...shellScripts()]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

// Every optional check at error level: the Dockerfile is held to all of them.
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

const problems = (content: string) => validate(content, STRICT).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);

describe('the Dockerfile, through dockerfile-utils', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

  it.each([
    ['a lowercase instruction', 'FROM node:24-bookworm-slim\nexpose 4180\n', 'uppercase'],
    ['a port that is not a number', 'FROM node:24-bookworm-slim\nEXPOSE http\n', 'containerPort'],
    ['a relative WORKDIR', 'FROM node:24-bookworm-slim\nWORKDIR app\n', 'absolute'],
    ['a second ENTRYPOINT', 'FROM node:24-bookworm-slim\nENTRYPOINT ["a"]\nENTRYPOINT ["b"]\n', 'ENTRYPOINT'],
  ])('finds %s (it is really checking)', (_, content, word) => {
    expect(problems(content).join('\n')).toContain(word);
  });

  it('has no problems', () => {
    expect(problems(dockerfile)).toEqual([]);
  });

  it('ends on Node 24, as numeric user 1000, with nothing downloaded but npm packages', () => {
    const from = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((match) => match[1]);
    expect(from.at(-1)).toMatch(/(^|\/)node:24-/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).not.toMatch(/apt-get|apk |curl|wget|^ADD\s+https?:/m);
  });
});
