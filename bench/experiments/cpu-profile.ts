/**
 * Reading a V8 CPU profile (`node --cpu-prof`): self time per origin (origin.ts) plus V8's pseudo
 * frames — (garbage collector), (program) (V8/Node native work outside any JS frame), (idle) — optionally only up to a CLOCK_MONOTONIC instant (e.g. the first answer).
 */
import { readFileSync } from 'node:fs';
import { originOf } from './origin';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Node's own JS: the CommonJS loader (resolve, read, compile — compiling our code is charged here) vs the rest. */
function nodeOrigin(url: string): string {
  return url.startsWith('node:internal/modules/') ? 'node: module loader (resolve, read, compile)' : 'node: other built-ins';
}

/** Self ms per origin of the profile at `file`, counting samples up to `untilMonoUs` (if given). */
export function selfTimeByOrigin(file: string, untilMonoUs?: number): Record<string, number> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const originById = new Map<number, string>();
  for (const node of profile.nodes) {
    const { functionName, url } = node.callFrame;
    originById.set(node.id, url === '' ? (functionName.startsWith('(') ? functionName : 'native code (no url)') : url.startsWith('node:') ? nodeOrigin(url) : originOf(url));
  }
  const out: Record<string, number> = {};
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (untilMonoUs !== undefined && t > untilMonoUs) break;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const origin = originById.get(profile.samples[i] ?? -1) ?? '?';
    out[origin] = (out[origin] ?? 0) + dt / 1000;
  }
  return out;
}
