/**
 * "did you mean" for misspelt commands and flags, by cobra's rule (what crictl, kubectl and nerdctl
 * use): a candidate within Levenshtein distance 2 of the input, or one the input is a prefix of.
 */

/** Levenshtein distance, case-insensitive (cobra compares lower-cased when it suggests). */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[t.length]!;
}

/**
 * The closest candidate to `input`, or undefined when none is close enough.
 *
 * @example
 * suggest("pul", ["pull", "ps", "pods"]); // "pull"
 * suggest("al", ["all", "pod"]); // "all"
 * suggest("zzzz", ["pull"]); // undefined
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const prefix = input.length > 0 && candidate.toLowerCase().startsWith(input.toLowerCase());
    // a candidate the input starts ranks before any misspelling ("port" -> "port-forward", not "pods")
    const distance = editDistance(input, candidate) - (prefix ? 1000 : 0);
    if ((distance <= 2 || prefix) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
