/**
 * Tests run the core through the Node platform, as the Node entry (src/index.ts) does. Imported
 * first by tests that reach the platform (ORT, hashing, the registry, the graph cache), and
 * preloaded by `npm test` (--import) for every test file.
 */
import { nodePlatform } from '../../src/platform/node.js';
import { setPlatform } from '../../src/platform/platform.js';

setPlatform(nodePlatform);
