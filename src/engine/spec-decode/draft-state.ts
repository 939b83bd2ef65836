// A request's speculative-decoding state, kept together so that preemption can reset it in one place.

import { newDraftPace, type DraftPace } from './draft-pacing.js';

export interface DraftState {
  /** Tokens proposed to follow the request's tokens, verified in the next step. */
  tokenIds: number[];
  /** The distribution each draft was drawn from (sampled requests, draft models); empty = one-hot. */
  probs: Float64Array[];
  /** With a draft model: tokens whose K/V are in the draft's cache. */
  numComputed: number;
  /** Adaptive draft length and back-off (see draft-pacing.ts). */
  readonly pace: DraftPace;
}

export function newDraftState(): DraftState {
  return { tokenIds: [], probs: [], numComputed: 0, pace: newDraftPace() };
}

/** Preemption: the drafts and the draft's cache are gone; the pacing survives. */
export function clearDrafts(d: DraftState): void {
  d.tokenIds = [];
  d.probs = [];
  d.numComputed = 0;
}
