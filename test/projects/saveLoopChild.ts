import { ProjectService } from '../../src/projects/projectService.js';

/**
 * Child process of crashSafety.test.ts: saves new label versions of one case in a loop and prints
 * each committed version number, until the parent kills it with SIGKILL mid-loop.
 */
const [db, caseName, user] = process.argv.slice(2) as [string, string, string];
const svc = await ProjectService.open({ db });
const project = await svc.project();
let base = (await svc.caseByName(project, caseName)).headVersion;
const c = await svc.caseByName(project, caseName);
const n = c.dims[0] * c.dims[1] * c.dims[2];
for (let i = 0; ; i++) {
  // A different mask every time, so every save writes a new blob.
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) labels[k] = (k * 7 + i) % 13 < 5 ? 1 : 0;
  labels[i % n] = 1 - labels[i % n]!;
  const v = await svc.save(project, caseName, user, labels, base);
  base = v.version;
  process.stdout.write(`${v.version}\n`);
}
