// How many drafts a request proposes next step. A draft run costs verification rows (and, for a draft
// model, its passes) whether or not anything is accepted, so drafting follows how recent runs fared:
// - after a run, the next proposes two more than it accepted (all K after a full acceptance);
// - after the second run in a row with nothing accepted, the request pauses for 1, 2, 4 ... 16 steps;
// - a new request starts where the engine's latest runs left off: when they accepted nothing, it
//   starts paused and short instead of paying a full run to learn what every request before it did.
// A text the drafts cannot predict so costs little more than plain decoding, and one they can predict
// resets everything at its first acceptance.

export interface DraftPace {
  draftLen: number;
  pauseSteps: number;
  misses: number;
  /** Whether this request has had a draft run yet. */
  started: boolean;
}

const MAX_PAUSE = 16;

export function newDraftPace(): DraftPace {
  return { draftLen: Infinity, pauseSteps: 0, misses: 0, started: false };
}

export class DraftPacer {
  /** Draft runs in a row, across all requests, that accepted nothing. */
  private engineMisses = 0;

  /** Drafts the request may propose this step (0 while paused); at most k. */
  allowance(pace: DraftPace, k: number): number {
    if (!pace.started) {
      pace.started = true;
      if (this.engineMisses >= 2) this.miss(pace, this.engineMisses);
    }
    if (pace.pauseSteps > 0) {
      pace.pauseSteps--;
      return 0;
    }
    return Math.min(k, pace.draftLen);
  }

  record(pace: DraftPace, numDrafts: number, numAccepted: number): void {
    if (numAccepted === 0) {
      this.engineMisses++;
      this.miss(pace, pace.misses + 1);
      return;
    }
    this.engineMisses = 0;
    pace.misses = 0;
    pace.pauseSteps = 0;
    pace.draftLen = numAccepted === numDrafts ? Infinity : numAccepted + 2;
  }

  private miss(pace: DraftPace, misses: number): void {
    pace.misses = misses;
    pace.draftLen = 2;
    if (misses >= 2) pace.pauseSteps = Math.min(MAX_PAUSE, 2 ** (misses - 2));
  }
}
