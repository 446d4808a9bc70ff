/**
 * Reading an AdmissionReview body: `application/json`, at most `limit` bytes of UTF-8 JSON. What express.json
 * (body-parser, raw-body, iconv-lite, type-is) did for us, at a fraction of its cost per review:
 * kube-apiserver sends one uncompressed UTF-8 JSON document per request.
 */
import type { IncomingMessage } from 'node:http';

/** A body the webhook cannot read: 400, or 413 when it is over the limit. */
export class BodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** The charset parameter of a Content-Type header, lower-case, if any. */
function charsetOf(params: string[]): string | undefined {
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    return param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
  }
  return undefined;
}

/** Checks the headers, reads and parses the body; an empty body is `{}`. Rejects with a {@link BodyError}. */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const fail = (status: 400 | 413, message: string) => {
      req.removeAllListeners('data');
      req.resume(); // drain what still comes; the answer closes the connection
      reject(new BodyError(status, message));
    };
    const contentType = req.headers['content-type'];
    const [type = '', ...params] = (contentType ?? '').split(';');
    if (type.trim().toLowerCase() !== 'application/json') return fail(400, `Content-Type must be application/json, got ${JSON.stringify(contentType ?? '')}`);
    const charset = charsetOf(params);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return fail(400, `unsupported charset "${charset.toUpperCase()}"`);
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') return fail(400, `unsupported content encoding "${encoding}"`);
    const tooLarge = `request body is larger than ${limit} bytes`;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) return fail(413, tooLarge);

    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        return fail(413, tooLarge);
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (done) return;
      done = true;
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new BodyError(400, `body is not valid JSON: ${(e as Error).message}`));
      }
    });
    req.once('error', (err) => {
      if (done) return;
      done = true;
      reject(new BodyError(400, `cannot read the request body: ${err.message}`));
    });
  });
}
