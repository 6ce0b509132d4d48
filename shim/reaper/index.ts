/** shim/reaper: how the shim learns every exit (see reaper.ts for the decision). */
export { type Exit, nowNs } from './exit';
export { listChildren } from './children';
export { Reaper, type ReaperOptions } from './reaper';
export { type Child, type SpawnOptions, type Spawned, type StdioSpec } from './child';
export { ExitMonitor, type ExitSubscription, type ProcessMonitor } from './monitor';
