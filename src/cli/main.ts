#!/usr/bin/env node
import { runCli } from './program.js';

// exitCode (not process.exit) so pending stdout/stderr writes are flushed first.
process.exitCode = await runCli(process.argv);
