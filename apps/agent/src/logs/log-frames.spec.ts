import { dockerSince, dockerTail, LogFrameDecoder, splitTimestamp } from './log-frames';

const frame = (type: number, text: string) => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};
const decoded = (frames: { stream: string; data: Buffer }[]) =>
  frames.map((f) => ({ stream: f.stream, text: f.data.toString() }));

describe('LogFrameDecoder', () => {
  it('splits multiplexed frames, several in one chunk or one split across chunks', () => {
    const bytes = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]);
    const decoder = new LogFrameDecoder(true);
    const first = decoder.push(bytes.subarray(0, 20));
    const rest = decoder.push(bytes.subarray(20));
    expect(decoded([...first, ...rest])).toEqual([
      { stream: 'stdout', text: 'out 1\n' },
      { stream: 'stderr', text: 'err 1\n' },
      { stream: 'stdout', text: 'out 2\n' },
    ]);
    expect(decoder.end()).toEqual([]);
  });

  it('splits a raw (TTY) stream into lines and keeps a last line without a newline', () => {
    const decoder = new LogFrameDecoder(false);
    expect(decoded(decoder.push(Buffer.from('a\nb')))).toEqual([{ stream: 'stdout', text: 'a\n' }]);
    expect(decoded(decoder.push(Buffer.from('c\nd')))).toEqual([
      { stream: 'stdout', text: 'bc\n' },
    ]);
    expect(decoded(decoder.end())).toEqual([{ stream: 'stdout', text: 'd' }]);
  });
});

describe('splitTimestamp', () => {
  it('reads the engine timestamp to the millisecond and strips it', () => {
    expect(splitTimestamp('2026-11-25T16:56:50.828473835Z hello\n')).toEqual({
      at: Date.UTC(2026, 10, 25, 16, 56, 50, 828),
      text: 'hello\n',
    });
    expect(splitTimestamp('2026-11-25T16:56:50Z x')).toEqual({
      at: Date.UTC(2026, 10, 25, 16, 56, 50),
      text: 'x',
    });
  });

  it('leaves a line without a timestamp whole', () => {
    expect(splitTimestamp('plain line\n')).toEqual({ at: undefined, text: 'plain line\n' });
  });
});

describe('engine parameters', () => {
  it('passes since as seconds with nanoseconds and tail -1 as all', () => {
    expect(dockerSince(1_700_000_000_123)).toBe('1700000000.123000000');
    expect(dockerSince(1_700_000_000_000)).toBe('1700000000.000000000');
    expect(dockerTail(-1)).toBe('all');
    expect(dockerTail(0)).toBe('0');
    expect(dockerTail(5)).toBe('5');
  });
});
