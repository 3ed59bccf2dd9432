/**
 * Docker's log stream, decoded. A container without a TTY has its stdout and stderr
 * multiplexed: each frame is an 8-byte header (stream type, 3 zero bytes, big-endian
 * payload length) and the payload. A TTY container's stream is raw bytes, all stdout.
 * Pure: no I/O, fed chunks as they arrive.
 */

export type LogStreamName = 'stdout' | 'stderr';

export interface LogFrame {
  stream: LogStreamName;
  data: Buffer;
}

const HEADER_BYTES = 8;
const STREAM_BY_TYPE: Record<number, LogStreamName | undefined> = { 1: 'stdout', 2: 'stderr' };

/**
 * Splits a multiplexed stream into frames, or a raw (TTY) stream into lines. Frames may
 * arrive split across chunks, or several in one chunk; `end()` returns what is left (a last
 * line without a newline, or a truncated frame's bytes).
 */
export class LogFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly multiplexed: boolean) {}

  push(chunk: Buffer): LogFrame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    return this.multiplexed ? this.takeFrames() : this.takeLines();
  }

  end(): LogFrame[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (rest.length === 0) return [];
    if (this.multiplexed && rest.length > HEADER_BYTES) {
      const stream = STREAM_BY_TYPE[rest.readUInt8(0)] ?? 'stdout';
      return [{ stream, data: rest.subarray(HEADER_BYTES) }];
    }
    return this.multiplexed ? [] : [{ stream: 'stdout', data: rest }];
  }

  private takeFrames(): LogFrame[] {
    const frames: LogFrame[] = [];
    let offset = 0;
    while (this.pending.length - offset >= HEADER_BYTES) {
      const type = this.pending.readUInt8(offset);
      const length = this.pending.readUInt32BE(offset + 4);
      if (this.pending.length - offset - HEADER_BYTES < length) break;
      const start = offset + HEADER_BYTES;
      const stream = STREAM_BY_TYPE[type];
      // Type 0 (stdin) never carries logs; skip it rather than mislabel it.
      if (stream) frames.push({ stream, data: this.pending.subarray(start, start + length) });
      offset = start + length;
    }
    this.pending = this.pending.subarray(offset);
    return frames;
  }

  private takeLines(): LogFrame[] {
    const frames: LogFrame[] = [];
    let offset = 0;
    for (
      let nl = this.pending.indexOf(10, offset);
      nl !== -1;
      nl = this.pending.indexOf(10, offset)
    ) {
      frames.push({ stream: 'stdout', data: this.pending.subarray(offset, nl + 1) });
      offset = nl + 1;
    }
    this.pending = this.pending.subarray(offset);
    return frames;
  }
}

// What the engine puts before each line when asked for timestamps: RFC 3339 with nanoseconds.
const TIMESTAMP_PREFIX = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}) /;

/**
 * Splits the engine's timestamp off a line: the epoch milliseconds it names, and the text
 * after it. A line without one is returned whole with `at` undefined.
 */
export function splitTimestamp(line: string): { at: number | undefined; text: string } {
  const m = TIMESTAMP_PREFIX.exec(line);
  if (!m) return { at: undefined, text: line };
  const millis = m[2] ? m[2].slice(0, 4).padEnd(4, '0') : '';
  const at = Date.parse(`${m[1]}${millis}${m[3]}`);
  if (Number.isNaN(at)) return { at: undefined, text: line };
  return { at, text: line.slice(m[0].length) };
}

/** Epoch milliseconds as the engine's `since`: seconds with a nanosecond fraction. */
export function dockerSince(epochMs: number): string {
  const seconds = Math.floor(epochMs / 1000);
  const nanos = (epochMs - seconds * 1000) * 1_000_000;
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** The engine's `tail`: a negative count means every line. */
export function dockerTail(tail: number): string {
  return tail < 0 ? 'all' : String(tail);
}
