/** Limits the core applies before handing values to backends. */

/** setTimeout holds at most 2^31-1 ms; longer delays fire immediately, so timeouts are clamped to this. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
