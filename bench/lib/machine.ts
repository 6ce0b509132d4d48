/** The machine a run was measured on, for the report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';

function firstLine(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** CPU, memory, kernel, distribution and the versions of everything measured. */
export function describeMachine(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    debian: read('/etc/debian_version'),
    cgroup: read('/proc/self/cgroup').startsWith('0::') ? 'v2' : 'v1',
    node: process.version,
    containerd: firstLine('containerd', ['--version']),
    runc: firstLine('runc', ['--version']),
    goShim: execFileSafe(),
  };
}

function execFileSafe(): string {
  try {
    const out = execFileSync('/usr/bin/containerd-shim-runc-v2', ['-v'], { encoding: 'utf8', timeout: 10_000 });
    return /Version:\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The machine as one Markdown-friendly line. */
export function machineLine(m: Record<string, string | number>): string {
  return `${m['cpu']} × ${m['cores']} cores, ${m['memoryGiB']} GiB, Linux ${m['kernel']} (Debian ${m['debian']}, cgroup ${m['cgroup']}), Node ${m['node']}, ${m['containerd']}, ${m['runc']}, Go shim ${m['goShim']}`;
}
