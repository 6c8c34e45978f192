import { App } from './app.js';
import { startCaseMode } from './projects/caseMode.js';
import { caseFromQuery } from './projects/router.js';

// Anything that escapes the app's own handling still reaches the person, not only the console.
const app = new App();
// `/?project=P&case=C` is a project case's annotation view (projects.html's queue opens it).
const projectCase = caseFromQuery(location.search);
window.addEventListener('unhandledrejection', (e) => app.messages.error(e.reason));
app
  .start({ restore: !projectCase })
  .then(() => (projectCase ? startCaseMode(app, projectCase) : undefined))
  .catch((e: unknown) => {
    const gl = /webgl/i.test(String(e)) ? ' (this browser has no WebGL2)' : '';
    app.messages.error(
      new Error(`the viewer could not start${gl}: ${e instanceof Error ? e.message : String(e)}`),
      'use a current Chrome, Edge or Firefox with hardware acceleration on',
    );
  });
