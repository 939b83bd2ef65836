// How the router picks a worker for a request. Load is what the router itself has in flight at each
// worker (exact and current), with the worker's last reported KV usage to break ties.
// cache-aware follows SGLang's router: when the load is balanced, the worker whose prefix tree
// matches most of the request wins if the match reaches the cache threshold; a miss, or an
// imbalanced load, goes to the least-loaded worker, so misses spread instead of piling onto one.

/** What a worker is believed to hold: the router's prefix tree, or its view from KV-cache events. */
export interface PrefixMatcher {
  /** How many leading elements of `seq` it holds. */
  matchLength(seq: readonly number[]): number;
  /** Elements held (misses go to the emptier worker on equal load). */
  readonly size: number;
}

export const POLICY_NAMES = ['round-robin', 'least-load', 'power-of-two', 'cache-aware'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface Candidate {
  /** The worker's index in the pool. */
  index: number;
  inFlight: number;
  /** KV cache usage last reported (0..1), 0 when unknown. */
  kvUsage: number;
  tree: PrefixMatcher;
}

export interface Choice {
  index: number;
  /** cache-aware only: the chosen tree matched the request past the threshold. */
  cacheHit?: boolean;
  /** cache-aware only: the load was imbalanced, so the cache was not consulted. */
  rebalanced?: boolean;
}

export interface CacheAwareOptions {
  /** Fraction of the request a tree must match to route by cache (SGLang: 0.5). */
  cacheThreshold: number;
  /** Imbalanced when max - min in-flight exceeds this... */
  balanceAbsThreshold: number;
  /** ...and max exceeds min times this. */
  balanceRelThreshold: number;
}

export const CACHE_AWARE_DEFAULTS: CacheAwareOptions = { cacheThreshold: 0.5, balanceAbsThreshold: 32, balanceRelThreshold: 1.5 };

export interface RoutingPolicy {
  /** `candidates` is non-empty; `key` is the request's prompt as numbers. */
  choose(candidates: readonly Candidate[], key: readonly number[]): Choice;
}

const lessLoaded = (a: Candidate, b: Candidate) => a.inFlight - b.inFlight || a.kvUsage - b.kvUsage;
const leastLoaded = (cs: readonly Candidate[], tie: (a: Candidate, b: Candidate) => number = () => 0) =>
  cs.reduce((best, c) => ((lessLoaded(c, best) || tie(c, best)) < 0 ? c : best));

export function createPolicy(name: PolicyName, cacheAware: CacheAwareOptions = CACHE_AWARE_DEFAULTS, random: () => number = Math.random): RoutingPolicy {
  switch (name) {
    case 'round-robin': {
      let next = 0;
      // By pool index, so a worker coming back takes its old turn.
      return {
        choose(cs) {
          const c = cs.find((x) => x.index >= next) ?? cs[0]!;
          next = c.index + 1;
          return { index: c.index };
        },
      };
    }
    case 'least-load':
      return { choose: (cs) => ({ index: leastLoaded(cs).index }) };
    case 'power-of-two':
      return {
        choose(cs) {
          if (cs.length === 1) return { index: cs[0]!.index };
          const i = Math.floor(random() * cs.length);
          const j = (i + 1 + Math.floor(random() * (cs.length - 1))) % cs.length;
          return { index: leastLoaded([cs[i]!, cs[j]!]).index };
        },
      };
    case 'cache-aware':
      return {
        choose(cs, key) {
          const loads = cs.map((c) => c.inFlight);
          const max = Math.max(...loads);
          const min = Math.min(...loads);
          if (max - min > cacheAware.balanceAbsThreshold && max > min * cacheAware.balanceRelThreshold) {
            return { index: leastLoaded(cs).index, rebalanced: true };
          }
          let best = cs[0]!;
          let bestMatch = -1;
          for (const c of cs) {
            const m = c.tree.matchLength(key);
            if (m > bestMatch || (m === bestMatch && lessLoaded(c, best) < 0)) [best, bestMatch] = [c, m];
          }
          if (key.length > 0 && bestMatch / key.length >= cacheAware.cacheThreshold) return { index: best.index, cacheHit: true };
          return { index: leastLoaded(cs, (a, b) => a.tree.size - b.tree.size).index, cacheHit: false };
        },
      };
  }
}
