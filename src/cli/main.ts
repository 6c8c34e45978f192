#!/usr/bin/env node
import { nodePlatform } from '../platform/node.js';
import { setPlatform } from '../platform/platform.js';
import { runCli } from './program.js';

setPlatform(nodePlatform);

// exitCode (not process.exit) so pending stdout/stderr writes are flushed first.
process.exitCode = await runCli(process.argv);
