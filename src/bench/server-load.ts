// The prefix-cache hit rate a benchmark run caused, from a tsllm server's (or router's) /load before
// and after: hit tokens over queried tokens. Servers without /load (vLLM, llama.cpp) give null.

interface LoadCounters {
  prefix_cache_queries: number;
  prefix_cache_hits: number;
}

export async function readLoad(baseUrl: string): Promise<LoadCounters | null> {
  try {
    const res = await fetch(`${baseUrl.replace(/\/$/, '')}/load`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) return null;
    const l = (await res.json()) as Partial<LoadCounters>;
    return typeof l.prefix_cache_queries === 'number' && typeof l.prefix_cache_hits === 'number' ? { prefix_cache_queries: l.prefix_cache_queries, prefix_cache_hits: l.prefix_cache_hits } : null;
  } catch {
    return null;
  }
}

export interface PrefixCacheUse {
  queriedTokens: number;
  hitTokens: number;
  hitRate: number;
}

export function prefixCacheUse(before: LoadCounters | null, after: LoadCounters | null): PrefixCacheUse | null {
  if (!before || !after) return null;
  const queriedTokens = after.prefix_cache_queries - before.prefix_cache_queries;
  const hitTokens = after.prefix_cache_hits - before.prefix_cache_hits;
  return { queriedTokens, hitTokens, hitRate: queriedTokens > 0 ? hitTokens / queriedTokens : 0 };
}
