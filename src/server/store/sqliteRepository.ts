import { SqliteDb } from '../../projects/sqliteDb.js';
import { SqlRepository } from './sqlRepository.js';

/**
 * The server Repository on an embedded SQLite file (the default): the one SQL layer
 * (sqlRepository.ts) over better-sqlite3 12 (v13 needs Node 22) in WAL mode with synchronous=NORMAL,
 * so a committed row survives kill -9 (sqliteDb.ts). Migrations run before the first statement.
 */
export class SqliteRepository extends SqlRepository {
  constructor(file: string) {
    super(new SqliteDb(file));
  }
}
