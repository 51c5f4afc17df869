import type { ServerResponse } from 'node:http';
import type { EmuRequest, EndpointGroup } from './http.ts';
import type { Org } from './org.ts';
import type { Session } from './oauth/service.ts';

/**
 * Fault injection (see README "Fault injection"). Deterministic for a given seed.
 * This is the interface the server and handlers call; the spec parser and the knobs live here.
 */
export interface FaultSpec {
  readonly [key: string]: unknown;
}

export class FaultInjector {
  private readonly org: Org;
  spec: FaultSpec;

  constructor(org: Org, spec: string | FaultSpec | undefined) {
    this.org = org;
    this.spec = typeof spec === 'string' ? {} : (spec ?? {});
  }

  /**
   * Called before a matched route runs (after auth). Returns true when the fault already answered
   * the request (an injected 500/503/429 or a reset); may also delay.
   */
  async intercept(_group: EndpointGroup, _req: EmuRequest, _res: ServerResponse): Promise<boolean> {
    return false;
  }

  /** True when this session must be treated as expired now ("sessions that expire after N calls"). */
  sessionExpired(_session: Session): boolean {
    return false;
  }

  /** True when this written row must fail with UNABLE_TO_LOCK_ROW. */
  rowLock(): boolean {
    return false;
  }

  /** An errorMessage when this Bulk job must end Failed, else undefined. */
  bulkJobFailure(_kind: 'ingest' | 'query'): string | undefined {
    return undefined;
  }

  /** Wrap a response so that the connection resets part-way through the body, when the spec says so. */
  wrapResponse(_group: EndpointGroup, res: ServerResponse): ServerResponse {
    return res;
  }

  /** Replace the spec at run time (control endpoint). */
  set(spec: string | FaultSpec): void {
    this.spec = typeof spec === 'string' ? {} : spec;
    void this.org;
  }
}
