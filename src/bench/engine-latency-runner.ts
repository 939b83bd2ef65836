// `bench latency` through the engine, for a model spread over processes (-tp/-pp), where no single
// process holds the model to time it directly. The B prompts go in at once; prefill is timed from
// their arrival to the last first token and decode from there to the last token, by the engine's own
// request timelines. The prefix cache is off so that every iteration computes its prompts.

import { AsyncEngine } from '../engine/async-engine.js';
import type { EngineOptions } from '../engine/engine-options.js';
import { makeSamplingParams } from '../engine/sampling/sampling-params.js';
import type { RequestTimeline } from '../engine/request.js';
import type { LatencyRunner, LatencySample } from './latency.js';

export class EngineLatencyRunner implements LatencyRunner {
  private constructor(
    readonly name: string,
    private readonly engine: AsyncEngine,
  ) {}

  static async start(name: string, options: EngineOptions): Promise<EngineLatencyRunner> {
    return new EngineLatencyRunner(name, await AsyncEngine.start({ ...options, enablePrefixCaching: false }, undefined, false));
  }

  async runOnce(prompts: number[][], outputLen: number): Promise<LatencySample> {
    const params = makeSamplingParams({ temperature: 0, maxTokens: outputLen, ignoreEos: true });
    const timelines = await Promise.all(prompts.map(async (p) => {
      let timeline: RequestTimeline | undefined;
      for await (const o of this.engine.generate(p, params)) timeline = o.timeline ?? timeline;
      if (!timeline?.firstToken || !timeline.finished) throw new Error('bench latency: a request ended without its timeline');
      return timeline;
    }));
    const arrived = Math.min(...timelines.map((t) => t.arrival));
    const prefilled = Math.max(...timelines.map((t) => t.firstToken!));
    const finished = Math.max(...timelines.map((t) => t.finished!));
    return {
      prefillSeconds: (prefilled - arrived) / 1000,
      prefillTokens: prompts.reduce((n, p) => n + p.length, 0),
      decodeSeconds: (finished - prefilled) / 1000,
      // The first token comes out of the prefill; the rest are decode steps.
      decodeSteps: outputLen - 1,
    };
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
