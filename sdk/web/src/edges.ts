// Edge failover for the SDK's own requests (segment Range requests, records, the key):
// the port of the Go peer's internal/peer/cdn.go. One edge is used at a time; a
// request that fails on the network or gets a 5xx moves every later request to the
// next edge and is retried there at once, so a dead edge costs one round trip, not a
// segment; a 404 (or any 4xx) says nothing of the edge and moves nothing. After
// primaryRetryMs on a fallback, the first edge is tried again (it may have recovered).

/** primaryRetryMs is how long requests stay on a fallback edge before the first is tried again. */
export const primaryRetryMs = 10_000;

export class EdgeFailover {
  /** Edge origins (scheme://host:port), the preferred first. */
  readonly origins: string[];
  private cur = 0;
  private left = 0; // now() when cur last moved off origins[0]
  /** switches counts moves to another edge. */
  switches = 0;

  constructor(
    edges: string[],
    private readonly fetchFn: typeof fetch = globalThis.fetch.bind(globalThis),
    private readonly now: () => number = () => performance.now(),
  ) {
    const origins: string[] = [];
    for (const e of edges) {
      const o = new URL(e).origin;
      if (!origins.includes(o)) origins.push(o);
    }
    if (origins.length === 0) throw new Error("EdgeFailover: no edge");
    this.origins = origins;
  }

  /** add appends edges (the welcome's) that are not listed yet. */
  add(edges: readonly string[]): void {
    for (const e of edges) {
      let o: string;
      try {
        o = new URL(e).origin;
      } catch {
        continue;
      }
      if (!this.origins.includes(o) && this.origins.length < 32) this.origins.push(o);
    }
  }

  /** current returns the index of the edge to use now. */
  current(): number {
    if (this.cur !== 0 && this.now() - this.left > primaryRetryMs) this.cur = 0;
    return this.cur;
  }

  /** failed moves off edge i (if no other request already did) and returns the edge to retry on. */
  failed(i: number): number {
    if (this.cur === i) {
      this.cur = (i + 1) % this.origins.length;
      this.switches++;
      if (i === 0) this.left = this.now();
    }
    return this.cur;
  }

  /** rewrite puts url on edge i when it names one of the edges (other URLs are left alone). */
  rewrite(url: string, i: number): string {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return url;
    }
    if (!this.origins.includes(u.origin)) return url;
    return this.origins[i] + u.pathname + u.search;
  }

  /** fetch is a fetch for the edges' URLs with failover (bind it: it is used as a function). */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (this.origins.length < 2 || !this.origins.includes(safeOrigin(url))) return this.fetchFn(input, init);
    const i = this.current();
    let r: Response;
    try {
      r = await this.fetchFn(this.rewrite(url, i), init);
      if (r.status < 500) return r;
      void r.body?.cancel();
    } catch (e) {
      if (init?.signal?.aborted) throw e; // the caller gave up: not the edge's fault
    }
    return this.fetchFn(this.rewrite(url, this.failed(i)), init);
  };
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "";
  }
}
