import type { Command } from 'commander';
import { resolve } from 'node:path';

// The server modules are loaded by the actions, so other commands do not pay for them.
const server = async () => ({ ...(await import('../../server/auth.js')), ...(await import('../../server/start.js')) });

async function addUser(name: string, flags: { role: string; dataDir?: string; db?: string }): Promise<void> {
  const { createUser, defaultDataDir, openRepository, parseRole } = await server();
  const role = parseRole(flags.role);
  const dataDir = resolve(flags.dataDir ?? defaultDataDir());
  const repo = await openRepository(dataDir, flags.db);
  try {
    const { token } = await createUser(repo, name, role);
    process.stdout.write(`created user '${name}' (${role}) in ${dataDir}\ntoken (shown once, only a salted hash is stored):\n${token}\n`);
  } finally {
    await repo.close();
  }
}

async function listUsers(flags: { dataDir?: string; db?: string }): Promise<void> {
  const { defaultDataDir, openRepository } = await server();
  const repo = await openRepository(resolve(flags.dataDir ?? defaultDataDir()), flags.db);
  try {
    for (const u of await repo.listUsers()) process.stdout.write(`${u.name}\t${u.role}\t${u.createdAt}\n`);
  } finally {
    await repo.close();
  }
}

export function addUsersCommand(program: Command): void {
  const users = program.command('users').description('server users and their bearer tokens');
  users
    .command('add')
    .description('create a user and print its token once')
    .argument('<name>', 'user name')
    .requiredOption('--role <role>', 'admin, annotator, reviewer or viewer')
    .option('--data-dir <dir>', 'the server data folder (default $MEDSAM2_HOME/server or ~/.medsam2/server)')
    .option('--db <spec>', "the server database when not the data folder's SQLite file: postgres://… (as medsam2 serve --db)")
    .action(async (name: string, flags: { role: string; dataDir?: string; db?: string }) => addUser(name, flags));
  users
    .command('list')
    .description('list users (names and roles; tokens are never shown again)')
    .option('--data-dir <dir>', 'the server data folder')
    .option('--db <spec>', 'the server database (postgres://…), as medsam2 serve --db')
    .action(async (flags: { dataDir?: string; db?: string }) => listUsers(flags));
}
