// Entry of a rank the engine spawned on this host: `node rank-main.js '<json>'`, the JSON holding the
// engine options, the rank and the master's address.

import type { EngineOptions } from '../engine-options.js';
import { runRankProcess } from './rank-process.js';

const { options, rank, master } = JSON.parse(process.argv[2]!) as { options: EngineOptions; rank: number; master: string };
process.exit(await runRankProcess(options, rank, master, true));
