// A worker thread of `tsllm quantize`: re-encodes the tensors it is sent (the K-quant scale searches
// are TypeScript, so tensors are spread over the cores).

import { parentPort } from 'node:worker_threads';
import { convertWeight } from '../../kernels/quantize.js';
import type { WeightDType, WeightTensor } from '../../kernels/tensor.js';

export interface QuantizeJob {
  id: number;
  tensor: WeightTensor;
  to: WeightDType;
}

parentPort!.on('message', (job: QuantizeJob) => {
  const data = convertWeight(job.tensor, job.to).data;
  parentPort!.postMessage({ id: job.id, data }, [data.buffer as ArrayBuffer]);
});
