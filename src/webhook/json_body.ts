/**
 * Reading an AdmissionReview body: `application/json`, at most `limit` bytes of UTF-8 JSON. What express.json
 * (body-parser, raw-body, iconv-lite, type-is) did for us, at a fraction of its cost per review:
 * kube-apiserver sends one uncompressed UTF-8 JSON document per request. Nesting is not limited
 * here: JSON.parse does not recurse, and nothing after it walks what the caller nested (the shape
 * check reads known fields, the patch skips what the review did not change, an UPDATE's templates
 * are compared without recursion), so no depth can overflow the stack.
 */
import type { IncomingMessage } from 'node:http';

/** A body the webhook cannot read: 400, 413 when it is over the limit, 429 when too many bytes are in flight. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 429,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/**
 * The bytes of request bodies being read, across all requests: bodies are buffered whole, so
 * this bounds the memory they take. A body that would exceed it is refused with 429 (the API
 * server's client retries after `Retry-After`). The first {@link UNCOUNTED_BYTES} of every body
 * are not counted, so that reviews of ordinary size are answered while large ones queue.
 */
export class InflightBytes {
  private used = 0;
  constructor(readonly limit: number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  release(n: number): void {
    this.used -= n;
  }
  get inUse(): number {
    return this.used;
  }
}

/** What every body may read before the in-flight budget counts it: more than any ordinary review. */
export const UNCOUNTED_BYTES = 64 * 1024;

/** The charset parameter of a Content-Type header, lower-case, if any. */
function charsetOf(params: string[]): string | undefined {
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
  }
  return undefined;
}

/** Why the headers alone refuse the request, if they do: media type, charset, encoding, declared size. */
function headerProblem(req: IncomingMessage, limit: number): { status: 400 | 413; message: string } | undefined {
  const contentType = req.headers['content-type'];
  const [type = '', ...params] = (contentType ?? '').split(';');
  if (type.trim().toLowerCase() !== 'application/json')
    return { status: 400, message: `Content-Type must be application/json, got ${JSON.stringify(contentType ?? '')}` };
  const charset = charsetOf(params);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    return { status: 400, message: `unsupported charset "${charset.toUpperCase()}"` };
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') return { status: 400, message: `unsupported content encoding "${encoding}"` };
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return { status: 413, message: tooLarge(limit) };
  return undefined;
}

const tooLarge = (limit: number) => `request body is larger than ${limit} bytes`;

/** The body's chunks as JSON (an empty body is `{}`); a BodyError when it is not JSON. */
function parseJson(chunks: Buffer[], size: number): unknown {
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  chunks.length = 0;
  try {
    const text = buffer.toString('utf8');
    return text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw new BodyError(400, `body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}

/**
 * Checks the headers, reads and parses the body; an empty body is `{}`. Rejects with a
 * {@link BodyError}. The bytes read count against `inflight` until the body is parsed or refused.
 */
export function readJsonBody(req: IncomingMessage, limit: number, inflight?: InflightBytes): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let taken = 0;
    const giveBack = () => {
      inflight?.release(taken);
      taken = 0;
    };
    // The answer to a refused body waits until the client has sent it all (read and dropped): a
    // client still writing when the connection closes sees EPIPE instead of the answer. Only a
    // body declared over the limit is answered at once, without reading it.
    const fail = (status: 400 | 413 | 429, message: string, drain = true) => {
      giveBack();
      req.removeAllListeners('data');
      const error = new BodyError(status, message);
      if (!drain || req.complete) {
        req.resume();
        return reject(error);
      }
      const settle = () => reject(error);
      req.once('end', settle).once('close', settle).once('error', settle);
      req.resume();
    };
    const refused = headerProblem(req, limit);
    if (refused) return fail(refused.status, refused.message, refused.status !== 413);

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    /** Ends the read once: the bytes taken no longer count. */
    const end = (settle: () => void) => {
      if (done) return;
      done = true;
      giveBack();
      settle();
    };
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        return fail(413, tooLarge(limit));
      }
      const counted = Math.min(chunk.length, size - UNCOUNTED_BYTES);
      if (inflight && counted > 0) {
        if (!inflight.take(counted)) {
          done = true;
          return fail(429, `too many request bytes in flight (over ${inflight.limit}): retry later`);
        }
        taken += counted;
      }
      chunks.push(chunk);
    });
    req.once('end', () =>
      end(() => {
        try {
          resolve(parseJson(chunks, size));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }),
    );
    // A client that goes away mid-body ends the read: its bytes no longer count.
    req.once('close', () => end(() => reject(new BodyError(400, 'the request was closed before its body ended'))));
    req.once('error', (err) => end(() => reject(new BodyError(400, `cannot read the request body: ${err.message}`))));
  });
}
