// The hls.js fragment loader (config.fLoader): segments of a shoal swarm come from the
// swarm (peers and edge Range requests, every piece verified before hls.js sees it);
// everything else, and everything when P2P is unavailable, goes to hls.js's own loader.

import type { FragmentLoaderContext, Loader, LoaderCallbacks, LoaderConfiguration, LoaderContext, LoaderStats, HlsConfig } from "hls.js";

/** Route is where a fragment comes from: a swarm's load, or undefined for the CDN. */
export interface Router {
  route(ctx: FragmentLoaderContext): ((signal: AbortSignal) => Promise<Uint8Array>) | undefined;
  /** cdnBytes counts bytes hls.js's own loader fetched for a fragment. */
  cdnBytes(n: number): void;
}

type LoaderCtor<T extends LoaderContext> = new (config: HlsConfig) => Loader<T>;

function newStats(): LoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 },
  };
}

/** fragmentLoader returns an fLoader class bound to router, delegating to Base. */
export function fragmentLoader(router: Router, Base: LoaderCtor<LoaderContext>): LoaderCtor<FragmentLoaderContext> {
  return class ShoalFragmentLoader implements Loader<FragmentLoaderContext> {
    context: FragmentLoaderContext | null = null;
    stats: LoaderStats = newStats();
    private base?: Loader<LoaderContext>;
    private ac?: AbortController;
    private callbacks?: LoaderCallbacks<FragmentLoaderContext>;

    constructor(private readonly config: HlsConfig) {}

    load(context: FragmentLoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<FragmentLoaderContext>): void {
      this.context = context;
      this.callbacks = callbacks;
      this.stats = newStats();
      const get = context.rangeStart || context.rangeEnd ? undefined : router.route(context);
      if (!get) {
        this.delegate(context, config, callbacks);
        return;
      }
      const ac = (this.ac = new AbortController());
      const stats = this.stats;
      stats.loading.start = performance.now();
      get(ac.signal).then(
        (data) => {
          if (ac.signal.aborted) return;
          stats.loading.first = stats.loading.end = performance.now();
          stats.loaded = stats.total = data.length;
          stats.chunkCount = 1;
          callbacks.onSuccess({ url: context.url, data: data.buffer as ArrayBuffer, code: 200 }, stats, context, null);
        },
        () => {
          // The swarm could not deliver verified bytes (no record, edge failures):
          // hls.js's own loader, with its retries, is the last resort.
          if (!ac.signal.aborted) this.delegate(context, config, callbacks);
        },
      );
    }

    private delegate(context: FragmentLoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<FragmentLoaderContext>): void {
      const base = (this.base = new Base(this.config));
      this.stats = base.stats;
      base.load(context, config, {
        ...callbacks,
        onSuccess: (resp, stats, ctx, nd) => {
          const d = resp.data;
          if (d instanceof ArrayBuffer) router.cdnBytes(d.byteLength);
          callbacks.onSuccess(resp, stats, ctx as FragmentLoaderContext, nd);
        },
      } as LoaderCallbacks<LoaderContext>);
    }

    abort(): void {
      if (this.base) {
        this.base.abort();
        return;
      }
      if (this.ac && !this.ac.signal.aborted) {
        this.ac.abort();
        this.stats.aborted = true;
        if (this.context) this.callbacks?.onAbort?.(this.stats, this.context, null);
      }
    }

    destroy(): void {
      if (this.ac && !this.ac.signal.aborted) this.ac.abort();
      this.base?.destroy();
      this.base = undefined;
      this.callbacks = undefined;
      this.context = null;
    }

    getResponseHeader(name: string): string | null {
      return this.base?.getResponseHeader?.(name) ?? null;
    }
  };
}
