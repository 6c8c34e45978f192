/**
 * A gate between the server and the test's Orthanc: an HTTP pass-through on 127.0.0.1 that the
 * server is given as its PACS (--stow-url), which lets the test hold STOW-RS requests (POSTs) and
 * let them through one at a time. A test then knows which SEG is on its way when it cancels or
 * restarts, with no sleeps and no timing: it waits until the Nth STOW has arrived, acts, and
 * passes it on. Everything else (and every STOW while the gate is open) goes straight through.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface StowGate {
  /** The DICOMweb root through the gate (the server's stowUrl). */
  dicomweb: string;
  /** STOW requests that have reached the gate so far. */
  readonly arrived: number;
  /** From now on STOWs wait at the gate until passed. */
  hold(): void;
  /** Resolves when `n` STOWs in all have reached the gate (held or not). */
  waitArrived(n: number): Promise<void>;
  /** Lets the next `n` held (or arriving) STOWs through; resolves when every STOW let through so far has the PACS's answer. */
  pass(n?: number): Promise<void>;
  /** Stops holding: what waits goes through, and so does every later STOW. */
  open(): Promise<void>;
  close(): Promise<void>;
}

export async function startStowGate(target: string): Promise<StowGate> {
  const base = new URL(target);
  let held = false;
  let arrived = 0;
  let credit = 0;
  const waiting: (() => void)[] = [];
  /** Answers still owed for passed STOWs, with the callbacks waiting for them. */
  let owed = 0;
  const settled: (() => void)[] = [];
  const arrivals: { n: number; resolve: () => void }[] = [];

  const forward = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    try {
      const r = await fetch(`${base.origin}${req.url}`, {
        method: req.method,
        headers,
        body: body.length ? body : undefined,
      });
      const bytes = Buffer.from(await r.arrayBuffer());
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(bytes);
    } catch (e) {
      res.writeHead(502).end(String(e));
    }
  };
  const drain = () => {
    while (waiting.length && (!held || credit > 0)) {
      if (held) credit--;
      waiting.shift()!();
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST') return void forward(req, res, body);
      arrived++;
      for (const a of arrivals.filter((x) => x.n <= arrived)) {
        arrivals.splice(arrivals.indexOf(a), 1);
        a.resolve();
      }
      owed++;
      waiting.push(
        () =>
          void forward(req, res, body).finally(() => {
            owed--;
            for (const s of settled.splice(0)) s();
          }),
      );
      drain();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const idle = () =>
    new Promise<void>((r) => {
      // Resolves once every STOW let through so far has its answer (those still held are not waited for).
      const check = () => (owed - waiting.length <= 0 ? r() : settled.push(check));
      check();
    });
  return {
    dicomweb: `http://127.0.0.1:${port}${base.pathname.replace(/\/$/, '')}`,
    get arrived() {
      return arrived;
    },
    hold() {
      held = true;
    },
    waitArrived: (n) => (arrived >= n ? Promise.resolve() : new Promise((resolve) => arrivals.push({ n, resolve }))),
    pass(n = 1) {
      credit += n;
      drain();
      return idle();
    },
    open() {
      held = false;
      drain();
      return idle();
    },
    close: () =>
      new Promise<void>((r) => {
        held = false;
        drain();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
