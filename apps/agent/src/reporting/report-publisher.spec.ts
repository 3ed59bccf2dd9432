import { SequenceClock } from './report-publisher';

describe('SequenceClock', () => {
  it('grows strictly, even within one millisecond, and across restarts', () => {
    const a = new SequenceClock(() => 1_000);
    const s1 = a.next();
    const s2 = a.next();
    expect(s1).toBe(1_000_000);
    expect(s2).toBe(1_000_001);
    const restarted = new SequenceClock(() => 1_001);
    expect(restarted.next()).toBeGreaterThan(s2);
  });
});
