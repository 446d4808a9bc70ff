/** How a reflector tells the ends of a list or watch apart: Gone (relist), any other failure, and an error's HTTP status. */
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
