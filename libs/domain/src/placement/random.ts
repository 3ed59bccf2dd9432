/** A source of uniform numbers in [0, 1); inject a seeded one for reproducible plans. */
export type RandomSource = () => number;

/** mulberry32: a small, fast, seeded generator, good enough to pick instances. */
export function seededRandom(seed: number): RandomSource {
  // Kept in int32 arithmetic so V8 never boxes the state into a heap number.
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
