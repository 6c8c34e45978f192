/**
 * A worker thread running the module `stem` beside the caller (Node only): the compiled .js next
 * to it, or — when the caller runs from the TypeScript sources under tsx, as tests and scripts do —
 * the .ts through tsx's loader, which a worker does not inherit from the parent's --import.
 */
import { Worker } from 'node:worker_threads';

export function spawnSiblingWorker(callerUrl: string, stem: string, workerData?: unknown): Worker {
  if (callerUrl.endsWith('.ts')) {
    const url = new URL(`./${stem}.ts`, callerUrl).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });`, {
      eval: true,
      execArgv: [],
      workerData,
    });
  }
  return new Worker(new URL(`./${stem}.js`, callerUrl), { workerData });
}
