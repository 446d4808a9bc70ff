/** How a reflector tells the ends of a list or watch apart: Gone (relist), any other failure, and an error's HTTP status. */
import { errorMessage } from '../../log.ts';
import { ApiError } from '../rest/request.ts';

/** The resourceVersion is no longer available: relist. */
export class Gone extends Error {}
/** Any other failure of a list or watch: back off, then go on. */
export class WatchFailure extends Error {
  constructor(
    message: string,
    /** Relist rather than re-watch from the same resourceVersion. */
    readonly relist = false,
  ) {
    super(message);
  }
}

/** The HTTP status of a failure, from an ApiError or a transport error that carries one. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.status;
  const e = err as { statusCode?: unknown; code?: unknown } | null | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

/** A list's version is compacted away, or newer than this server has: list consistently next. */
export function versionUnavailable(err: unknown): boolean {
  return statusCodeOf(err) === 410 || /too large resource version/i.test(errorMessage(err));
}

/**
 * How a watch that ended is taken: `rewatch` from the last resourceVersion (a normal close; or,
 * once established, silence past the idle limit, which is set past the server-side timeout: the
 * server should have ended it, so the connection is likely dead), else the failure to back off
 * from ({@link Gone}: relist).
 */
export function watchEnding(
  err: unknown,
  received: number,
  elapsedMs: number,
  established: boolean,
): { rewatch: 'closed' | 'silent' } | { failure: unknown } {
  if (err === undefined || err === null) {
    if (received === 0 && elapsedMs < 1000)
      return { failure: new WatchFailure('very short watch: closed within a second without any event') };
    return { rewatch: 'closed' };
  }
  if (statusCodeOf(err) === 410) return { failure: new Gone(errorMessage(err)) };
  if (established && (err as { name?: string }).name === 'TimeoutError') return { rewatch: 'silent' };
  return { failure: err };
}
