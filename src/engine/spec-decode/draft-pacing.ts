// How many drafts a request proposes next step. A draft run costs verification rows (and, for a draft
// model, its passes) whether or not anything is accepted, so drafting follows how recent runs fared:
// - after a run, the next proposes two more than it accepted (all K after a full acceptance);
// - after the second run in a row with nothing accepted, the request pauses for 1, 2, 4 ... 32 steps;
// - requests learn from each other through the engine's recent acceptance rate: while the recent runs
//   accepted less than MIN_RECENT_ACCEPTANCE of their drafts (less than a draft row costs), a new
//   request starts paused and short, and a run with nothing accepted pauses for the longest time at
//   once, instead of each request paying its own runs to learn what the others did.
// A text the drafts cannot predict so costs little more than plain decoding, and one they can predict
// resets everything at its first acceptance.

export interface DraftPace {
  draftLen: number;
  pauseSteps: number;
  misses: number;
  /** Whether this request has had a draft run yet. */
  started: boolean;
}

const MAX_PAUSE = 32;
const MIN_RECENT_ACCEPTANCE = 0.2;
/** Weight of the latest run in the engine's running acceptance rate. */
const RECENT_WEIGHT = 0.1;
const LONGEST_PAUSE_MISSES = 2 + Math.log2(MAX_PAUSE);

export function newDraftPace(): DraftPace {
  return { draftLen: Infinity, pauseSteps: 0, misses: 0, started: false };
}

export class DraftPacer {
  /**
   * Accepted over drafted tokens, averaged over the engine's recent runs. It starts at 1: speculation
   * was asked for, so a few misses (a dozen or more) must show that it does not pay.
   */
  private recentAcceptance = 1;

  /** Drafts the request may propose this step (0 while paused); at most k. */
  allowance(pace: DraftPace, k: number): number {
    if (!pace.started) {
      pace.started = true;
      if (this.recentAcceptance < MIN_RECENT_ACCEPTANCE) this.miss(pace, LONGEST_PAUSE_MISSES);
    }
    if (pace.pauseSteps > 0) {
      pace.pauseSteps--;
      return 0;
    }
    return Math.min(k, pace.draftLen);
  }

  record(pace: DraftPace, numDrafts: number, numAccepted: number): void {
    this.recentAcceptance += RECENT_WEIGHT * (numAccepted / numDrafts - this.recentAcceptance);
    if (numAccepted === 0) {
      this.miss(pace, this.recentAcceptance < MIN_RECENT_ACCEPTANCE ? Math.max(pace.misses + 1, LONGEST_PAUSE_MISSES) : pace.misses + 1);
      return;
    }
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
