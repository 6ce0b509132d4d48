/** shim/reaper: how the shim learns every exit (see reaper.ts for the decision). */
export { type Exit, nowNs } from './exit';
export { listChildren } from './children';
export { Reaper, type ReaperOptions } from './reaper';
export { ExitMonitor, type ExitSubscription, type ProcessMonitor, type Spawned } from './monitor';
