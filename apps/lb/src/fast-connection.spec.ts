import { headersFromRaw, INCOMPLETE, parseRequestHead, UNUSUAL } from './fast-connection';

const parse = (text: string) => parseRequestHead(Buffer.from(text, 'latin1'));

describe('parseRequestHead (the lb’s fast path)', () => {
  it('parses a plain HTTP/1.1 request head and says where it ends', () => {
    const head = 'GET /a/b?c=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */* \r\nX-Empty:\r\n\r\n';
    expect(parse(`${head}GET /next`)).toEqual({
      method: 'GET',
      url: '/a/b?c=1',
      rawHeaders: ['Host', 'example.com', 'Accept', '*/*', 'X-Empty', ''],
      length: head.length,
      close: false,
    });
  });

  it('notes Connection: close among other tokens', () => {
    const parsed = parse('HEAD / HTTP/1.1\r\nHost: x\r\nconnection: TE, Close\r\n\r\n');
    expect(parsed).toMatchObject({ method: 'HEAD', close: true });
  });

  it('goes on from where an incomplete head was searched to', () => {
    const text = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const buffer = Buffer.from(text, 'latin1');
    // every split point: the part before it was INCOMPLETE, then the rest arrived
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseRequestHead(buffer.subarray(0, cut))).toBe(INCOMPLETE);
      expect(parseRequestHead(buffer, cut)).toMatchObject({ url: '/', length: text.length });
    }
    // a bare LF in the part that arrived later is still found
    const bare = Buffer.from('GET / HTTP/1.1\r\nHost: x\nX: y', 'latin1');
    expect(parseRequestHead(bare, 20)).toBe(UNUSUAL);
  });

  it('waits for the rest of a head', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\n')).toBe(INCOMPLETE);
    expect(parse('')).toBe(INCOMPLETE);
  });

  it.each([
    ['a body by length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'],
    ['a chunked body', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'],
    [
      'an upgrade',
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    ],
    ['Expect', 'PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['an absolute-form target', 'GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['an unknown method', 'FETCH / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['CONNECT', 'CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a space in the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a non-ASCII target', 'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a header name with a space', 'GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
    ['space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['a control character in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n'],
    ['a folded header line', 'GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n'],
    ['a blank line first', '\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['bare LF line ends', 'GET / HTTP/1.1\nHost: x\n\n'],
    ['a head over 16 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX: ${'y'.repeat(17_000)}`],
  ])('leaves %s to node’s server', (_, text) => {
    expect(parse(text)).toBe(UNUSUAL);
  });
});

describe('headersFromRaw', () => {
  it('joins repeated headers as node’s req.headers does', () => {
    expect(
      headersFromRaw([
        'X-Team',
        'red',
        'x-team',
        'blue',
        'Cookie',
        'a=1',
        'cookie',
        'b=2',
        'Host',
        'first',
        'HOST',
        'second',
        'Set-Cookie',
        's=1',
      ]),
    ).toEqual({ 'x-team': 'red, blue', cookie: 'a=1; b=2', host: 'first', 'set-cookie': ['s=1'] });
  });
});
