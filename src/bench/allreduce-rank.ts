// A rank other than 0 of `tsllm bench allreduce`, spawned by it (or started by hand on another host
// with the same JSON): joins, runs the same all-reduce loop, exits.

import { ProcessGroup } from '../distributed/process-group.js';
import { TSLLM_VERSION } from '../util/version.js';
import { allReduceLoop, BENCH_MODEL } from './allreduce-bench.js';

const o = JSON.parse(process.argv[2]!) as { rank: number; worldSize: number; master: string; bindHost: string; sizes: number[]; iters: number };
const group = await ProcessGroup.join({ ...o, timeoutMs: 60_000, model: BENCH_MODEL, version: TSLLM_VERSION });
allReduceLoop(group, o.sizes, o.iters);
group.close();
