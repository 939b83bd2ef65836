// What every route needs once the model is loaded: the engine, its tokenizer, the metrics, and the
// server's limits.

import type { AsyncEngine } from '../engine/async-engine.js';
import type { EngineMetrics } from '../metrics/engine-metrics.js';
import type { Tokenizer } from '../model/tokenizer/tokenizer.js';
import type { SamplingLimits } from './sampling-request.js';
import type { ReasoningParser } from './reasoning-parser.js';
import type { ToolCallParser } from './tools/tool-call-parsers.js';

export interface ServerContext {
  engine: AsyncEngine;
  tokenizer: Tokenizer | null;
  metrics: EngineMetrics;
  servedModelName: string;
  limits: SamplingLimits;
  /** Sequences allowed to wait beyond those running (max-num-seqs) before requests are turned away. */
  maxWaiting: number;
  /** Epoch seconds the model finished loading (the /v1/models `created`). */
  created: number;
  /** How this model writes tool calls (--tool-call-parser, else detected from its chat template). */
  toolParser: ToolCallParser | null;
  /** How it separates its thinking (--reasoning-parser, else detected). */
  reasoningParser: ReasoningParser | null;
}
