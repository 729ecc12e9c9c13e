/** Runs the built `cloister` command as a user would: a real process, from the repository root. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@cloister/testkit';

export const bin = join(repoRoot, 'packages', 'cli', 'dist', 'src', 'bin.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [bin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
