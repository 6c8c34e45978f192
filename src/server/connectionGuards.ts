import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * What the server does about clients below any route: how long one may take to send a request,
 * what a request the HTTP parser or the router refuses is answered with, and how a route learns
 * that its client is gone. Node and Fastify answer these themselves by default, but with no time
 * limit on a request's body (a client that stops mid-upload held its connection, its open temp file
 * and its descriptor for good; one that stopped reading an answer held the file being streamed to it)
 * and in their own error shape, not the API's one line `{error, fix}`.
 */

/** Node http.Server options (and Fastify's own) that bound how long a client may take to send one request. */
export function requestTimeouts(requestSeconds: number): {
  requestTimeout: number;
  http: { headersTimeout: number; connectionsCheckingInterval: number };
} {
  const requestTimeout = Math.max(1, Math.round(requestSeconds * 1000));
  // Headers get Node's default minute, or the whole request's time when that is shorter.
  const headersTimeout = Math.min(60_000, requestTimeout);
  // Node looks for expired requests on this interval (default 30 s): a tenth of the limit, so a short limit is kept too.
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.round(headersTimeout / 10)));
  return { requestTimeout, http: { headersTimeout, connectionsCheckingInterval } };
}

function refusal(code: string | undefined, reason: string | undefined, requestSeconds: number): [number, string, string] {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [
      408,
      `the request was not received within ${requestSeconds} s`,
      'send the whole request (headers and body) without pausing; for a large upload over a slow link ask the admin to raise --request-timeout',
    ];
  if (code === 'HPE_HEADER_OVERFLOW')
    return [431, `the request headers are larger than ${maxHeaderSize} bytes`, 'send fewer or shorter headers'];
  return [
    400,
    `malformed HTTP request${reason ? `: ${reason.replace(/\s+/g, ' ')}` : ''}`,
    'send one well-formed HTTP/1.1 request at a time (a Content-Length that matches the body, or chunked encoding)',
  ];
}

/**
 * Fastify's `clientErrorHandler`: a request the HTTP parser refused (malformed, headers too large)
 * or one not received within the request timeout is answered in one line and its connection
 * closed; a connection already gone gets nothing.
 */
export function clientErrorHandler(requestSeconds: number): (err: Error, socket: Duplex) => void {
  return (err, socket) => {
    const e = err as NodeJS.ErrnoException & { reason?: string };
    if (e.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, error, fix] = refusal(e.code, e.reason, requestSeconds);
    const body = JSON.stringify({ error, fix });
    if (socket.writable)
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    socket.destroy();
  };
}

/** Fastify's `frameworkErrors`: a URL the router cannot decode (bad percent-encoding, an over-long parameter) in one line. */
export function frameworkErrors(err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply): void {
  const path = req.url.split('?')[0]!;
  const [status, error, fix] =
    err.code === 'FST_ERR_BAD_URL'
      ? [400, `the URL path '${path.slice(0, 200)}' is not valid percent-encoded UTF-8`, 'percent-encode each path segment as UTF-8']
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, `a parameter in the URL path is too long`, 'see /docs for the API']
        : [400, `the request cannot be routed (${err.message.replace(/\s+/g, ' ')})`, 'see /docs for the API'];
  void reply.code(status).type('application/json').send({ error, fix });
}

/**
 * An AbortSignal that fires if the client disconnects before `reply` is complete (not when the
 * answer finishes normally): what a long-running route hands the work it starts for that client.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  const res = reply.raw;
  const closed = () => {
    if (!res.writableFinished) gone.abort();
  };
  if (res.destroyed || reply.request.raw.socket?.destroyed) gone.abort();
  else res.once('close', closed);
  return gone.signal;
}

/**
 * Once an answer is ready to go, its connection may make no progress (the client reading nothing)
 * for at most `seconds`; Node then destroys it (its socket 'timeout' with no other listener),
 * freeing what the answer held: a file being streamed, the bytes still buffered. Set only when the
 * answer is complete, so the work behind it (an encode, a propagation) is never timed; when the
 * answer is sent, Node's keep-alive timeout replaces it, or it is cleared for a pipelined request.
 */
export function limitAnswerStall(res: ServerResponse, seconds: number): void {
  const socket = res.socket;
  if (!socket || socket.destroyed) return;
  const ms = Math.max(1, Math.round(seconds * 1000));
  socket.setTimeout(ms);
  res.once('finish', () => {
    // Runs after Node's own 'finish' listener, which sets the keep-alive timeout when the connection stays idle.
    if (socket.timeout === ms) socket.setTimeout(0);
  });
}
