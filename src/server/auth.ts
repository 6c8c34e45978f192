import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { MedsamError } from '../common/errors.js';
import type { Repository, Role, UserRow } from './store/repository.js';
import { ROLES } from './store/repository.js';

/**
 * Bearer tokens: `ms2_<userId>_<secret>`. Only scrypt(secret, per-user salt) is stored; the
 * token is printed once when the user is created. Verified tokens are remembered by their sha256
 * for the process lifetime so scrypt (deliberately slow) runs once per token, not per request.
 */

export interface Principal {
  id: string;
  name: string;
  role: Role;
}

/** Who a loopback request without a token acts as when the server does not require auth. */
export const LOCAL_PRINCIPAL: Principal = { id: 'local', name: 'local', role: 'admin' };

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function hashSecret(secret: string, salt: string): string {
  return scryptSync(secret, salt, 32).toString('hex');
}

export function parseRole(text: string): Role {
  if ((ROLES as readonly string[]).includes(text)) return text as Role;
  throw new MedsamError(`unknown role '${text}'`, `use one of ${ROLES.join(', ')}`);
}

/** Creates a user and returns its token (shown once; only a salted hash is stored). */
export async function createUser(repo: Repository, name: string, role: Role): Promise<{ user: UserRow; token: string }> {
  if (!USER_NAME.test(name))
    throw new MedsamError(
      `user name '${name}' is not allowed`,
      'use 1-64 letters, digits, dot, dash or underscore, starting with a letter or digit',
    );
  if (await repo.userByName(name)) throw new MedsamError(`user '${name}' already exists`, 'choose another name');
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  const user: UserRow = { id, name, role, tokenHash: hashSecret(secret, salt), salt, createdAt: new Date().toISOString() };
  await repo.createUser(user);
  return { user, token: `ms2_${id}_${secret}` };
}

export class TokenVerifier {
  private readonly verified = new Map<string, Principal>();

  constructor(private readonly repo: Repository) {}

  /** The principal of a valid token, or undefined. */
  async verify(token: string): Promise<Principal | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.verified.get(key);
    if (hit) return hit;
    const m = /^ms2_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return undefined;
    const user = await this.repo.userById(m[1]!);
    if (!user) return undefined;
    const got = Buffer.from(hashSecret(m[2]!, user.salt), 'hex');
    const want = Buffer.from(user.tokenHash, 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    const p: Principal = { id: user.id, name: user.name, role: user.role };
    this.verified.set(key, p);
    return p;
  }
}

/** Roles that may change things (upload, sessions, prompts, jobs); reviewers and viewers read. */
export function canWrite(p: Principal): boolean {
  return p.role === 'admin' || p.role === 'annotator';
}

/** Admins and reviewers (who review others' work, read-only) see everything; others only what they own. */
export function canSee(p: Principal, owner: string): boolean {
  return p.role === 'admin' || p.role === 'reviewer' || p.id === owner;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}
