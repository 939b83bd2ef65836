// The Prometheus metrics from known engine steps: vLLM's names under tsllm:, their labels and
// buckets, and exact values from a request timeline whose times are known.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestOutput } from '../../src/engine/output/output-processor.js';
import type { EngineStats } from '../../src/engine/engine-requests.js';
import { EngineMetrics, oneTwoFiveBuckets } from '../../src/metrics/engine-metrics.js';
import { metricValue } from '../helpers/server.js';
import { resolveEngineConfig } from '../../src/engine/engine-config.js';
import { PRESETS } from '../../src/model/presets.js';

const stats = (over: Partial<EngineStats>): EngineStats => ({
  numRunning: 0, numWaiting: 0, kvCacheUsage: 0, prefixCacheQueries: 0, prefixCacheHits: 0, numPreemptions: 0, numBatchedTokens: 0, promptTokens: 0, ...over,
});

describe('EngineMetrics', () => {
  it('1-2-5 buckets up to the model length', () => {
    assert.deepEqual(oneTwoFiveBuckets(100), [1, 2, 5, 10, 20, 50, 100]);
    assert.deepEqual(oneTwoFiveBuckets(4096), [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
  });

  it('describes the KV cache: dtype, blocks and capacity in tokens', async () => {
    const config = resolveEngineConfig(PRESETS['demo']!(), { kvCacheMemory: 10 * 16 * 544 + 5, kvCacheDtype: 'int8' });
    const t = await new EngineMetrics('tiny', 2048, config).text();
    const l = { model_name: 'tiny', engine: '0' };
    assert.equal(metricValue(t, 'tsllm:cache_config_info', { ...l, cache_dtype: 'int8', block_size: '16', num_blocks: '10', capacity_tokens: '160', kv_cache_bytes: String(10 * 16 * 544) }), 1);
    assert.equal(metricValue(t, 'tsllm:kv_cache_capacity_tokens', l), 160);
  });

  it('counts speculative decoding: drafts, draft tokens, accepted tokens, by position', async () => {
    const config = resolveEngineConfig(PRESETS['demo']!(), { kvCacheMemory: 1 << 20, speculativeMethod: 'ngram', numSpeculativeTokens: 3 });
    const m = new EngineMetrics('tiny', 2048, config);
    const l = { model_name: 'tiny', engine: '0' };
    assert.equal(metricValue(await m.text(), 'tsllm:spec_decode_num_accepted_tokens_per_pos_total', { ...l, position: '2' }), 0);
    m.observeStep([], stats({ spec: { numDrafts: 2, numDraftTokens: 6, numAcceptedTokens: 4, acceptedPerPosition: [2, 1, 1], draftMs: 1 } }));
    m.observeStep([], stats({ spec: { numDrafts: 3, numDraftTokens: 9, numAcceptedTokens: 4, acceptedPerPosition: [2, 1, 1], draftMs: 1 } }));
    const t = await m.text();
    assert.equal(metricValue(t, 'tsllm:spec_decode_num_drafts_total', l), 3);
    assert.equal(metricValue(t, 'tsllm:spec_decode_num_draft_tokens_total', l), 9);
    assert.equal(metricValue(t, 'tsllm:spec_decode_num_accepted_tokens_total', l), 4);
    assert.deepEqual([0, 1, 2].map((i) => metricValue(t, 'tsllm:spec_decode_num_accepted_tokens_per_pos_total', { ...l, position: String(i) })), [2, 1, 1]);
  });

  it('records gauges, counters and one request\'s timings exactly', async () => {
    const m = new EngineMetrics('tiny', 2048);
    m.observeStep([], stats({ numRunning: 1, numWaiting: 2, kvCacheUsage: 0.25, prefixCacheQueries: 64, prefixCacheHits: 32, promptTokens: 10, numBatchedTokens: 64 }));
    const finished: RequestOutput = {
      requestId: 'r', tokenIds: [5], text: 'x', finishReason: 'length', stopReason: null, numPromptTokens: 10, numCachedTokens: 0, numPreemptions: 0,
      timeline: { arrival: 1000, firstScheduled: 1500, firstToken: 2500, tokens: [2500, 2600, 2800], finished: 2800 },
    };
    m.observeStep([{ ...finished, finishReason: null, timeline: undefined }, finished], stats({ numRunning: 0, kvCacheUsage: 0, prefixCacheQueries: 80, prefixCacheHits: 32, numPreemptions: 1, promptTokens: 10, numBatchedTokens: 3 }));
    const t = await m.text();
    const l = { model_name: 'tiny', engine: '0' };
    assert.equal(metricValue(t, 'tsllm:num_requests_running', l), 0);
    assert.equal(metricValue(t, 'tsllm:num_requests_waiting', l), 0);
    assert.equal(metricValue(t, 'tsllm:prefix_cache_queries_total', l), 80);
    assert.equal(metricValue(t, 'tsllm:prefix_cache_hits_total', l), 32);
    assert.equal(metricValue(t, 'tsllm:num_preemptions_total', l), 1);
    assert.equal(metricValue(t, 'tsllm:prompt_tokens_total', l), 10);
    assert.equal(metricValue(t, 'tsllm:generation_tokens_total', l), 2);
    assert.equal(metricValue(t, 'tsllm:request_success_total', { ...l, finished_reason: 'length' }), 1);
    assert.equal(metricValue(t, 'tsllm:request_success_total', { ...l, finished_reason: 'stop' }), 0);
    assert.equal(metricValue(t, 'tsllm:iteration_tokens_total_count', l), 2);
    assert.equal(metricValue(t, 'tsllm:iteration_tokens_total_sum', l), 67);

    const close = (name: string, v: number) => assert.ok(Math.abs(metricValue(t, name, l)! - v) < 1e-9, `${name} = ${metricValue(t, name, l)}, expected ${v}`);
    close('tsllm:time_to_first_token_seconds_sum', 1.5);
    close('tsllm:request_queue_time_seconds_sum', 0.5);
    close('tsllm:e2e_request_latency_seconds_sum', 1.8);
    close('tsllm:request_inference_time_seconds_sum', 1.3);
    close('tsllm:request_prefill_time_seconds_sum', 1.0);
    close('tsllm:request_decode_time_seconds_sum', 0.3);
    close('tsllm:time_per_output_token_seconds_sum', 0.15);
    close('tsllm:inter_token_latency_seconds_sum', 0.3);
    assert.equal(metricValue(t, 'tsllm:inter_token_latency_seconds_count', l), 2);
    // vLLM's TTFT buckets: 1.5 s lands in le=2.5, not le=1.
    assert.equal(metricValue(t, 'tsllm:time_to_first_token_seconds_bucket', { ...l, le: '1' }), 0);
    assert.equal(metricValue(t, 'tsllm:time_to_first_token_seconds_bucket', { ...l, le: '2.5' }), 1);
    assert.equal(metricValue(t, 'tsllm:request_prompt_tokens_bucket', { ...l, le: '10' }), 1);
    assert.equal(metricValue(t, 'tsllm:request_generation_tokens_sum', l), 3);
    assert.ok(metricValue(t, 'process_cpu_seconds_total') !== undefined, 'process metrics too');
  });
});
