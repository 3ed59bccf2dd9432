import { InvalidParameterError } from '../errors';
import {
  compareVersions,
  evaluateQuery,
  MAX_EXPRESSION_LENGTH,
  parseQuery,
  parseQueryDate,
  QueryTarget,
} from './query-language';

const target = (more: Partial<QueryTarget> = {}): QueryTarget => ({
  ec2InstanceId: 'i-abcd1234',
  agentConnected: true,
  agentVersion: '1.14.5',
  registeredAt: Date.parse('2018-06-18T22:28:28Z'),
  runningTasksCount: 1,
  attributes: {
    'ecs.instance-type': 't2.small',
    'ecs.availability-zone': 'us-east-1a',
    stack: 'prod',
    gpu: '',
    size: '10',
  },
  taskGroups: { 'service:production': 1, 'family:web': 0 },
  ...more,
});

const holds = (expression: string, t: QueryTarget = target()) =>
  evaluateQuery(parseQuery(expression), t);

function errorOf(expression: string): string {
  try {
    parseQuery(expression);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidParameterError);
    return (err as Error).message;
  }
  throw new Error(`'${expression}' parsed`);
}

describe('parseQuery: the ECS examples', () => {
  it.each([
    ['attribute:ecs.instance-type == t2.small', true],
    ['attribute:ecs.availability-zone in [us-east-1a, us-east-1b]', true],
    [
      'attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d',
      false,
    ],
    ['attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d', true],
    ['task:group == service:production', true],
    ['not(task:group == database)', true],
    ['runningTasksCount == 1', true],
    ['agentVersion < 1.14.5', false],
    ['registeredAt < 2018-02-13', false],
    ["ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", true],
  ])('%s → %s', (expression, expected) => {
    expect(holds(expression)).toBe(expected);
  });
});

describe('parseQuery: operators', () => {
  it.each([
    ['attribute:stack == prod', true],
    ['attribute:stack equals prod', true],
    ['attribute:stack != prod', false],
    ['attribute:stack not_equals dev', true],
    ['attribute:size > 9', true],
    ['attribute:size greater_than 10', false],
    ['attribute:size >= 10', true],
    ['attribute:size greater_than_equal 11', false],
    ['attribute:size < 11', true],
    ['attribute:size less_than 10', false],
    ['attribute:size <= 10', true],
    ['attribute:size less_than_equal 9', false],
    ['attribute:gpu exists', true],
    ['attribute:nope exists', false],
    ['attribute:nope !exists', true],
    ['attribute:gpu not_exists', false],
    ['attribute:stack in (dev, prod)', true],
    ['attribute:stack in [dev]', false],
    ['attribute:stack !in [dev, test]', true],
    ['attribute:stack not_in (prod)', false],
    ['attribute:stack =~ pr.*', true],
    ['attribute:stack matches pr', false],
    ['attribute:stack !~ d.*', true],
    ['attribute:stack not_matches "p(r|x)od"', false],
  ])('%s → %s', (expression, expected) => {
    expect(holds(expression)).toBe(expected);
  });

  it('matches the whole value (Java Pattern.matches), not a substring', () => {
    expect(holds('attribute:ecs.instance-type =~ t2')).toBe(false);
    expect(holds('attribute:ecs.instance-type =~ .*small')).toBe(true);
    expect(holds("attribute:ecs.instance-type =~ 't2\\.(small|medium)'")).toBe(true);
  });

  it('reads a bare regular expression with brackets, parentheses and | up to whitespace', () => {
    expect(holds('ec2InstanceId =~ i-[a-c]bcd[0-9]+')).toBe(true);
    expect(
      holds('attribute:ecs.instance-type =~ t2\\.(small|medium) and agentConnected == true'),
    ).toBe(true);
    expect(holds('not(attribute:stack =~ pr.*)')).toBe(false);
    expect(holds('(attribute:stack matches (dev|prod))')).toBe(true);
    expect(holds('attribute:stack =~ x.*||attribute:size == 10')).toBe(true);
    expect(holds('attribute:stack == a||attribute:size==10')).toBe(true);
    expect(errorOf('attribute:stack =~ [a-')).toContain(
      "invalid regular expression '[a-' at position 19",
    );
  });

  it('makes a comparison on a missing attribute false, even a negative one; only !exists holds', () => {
    expect(holds('attribute:zone != us-east-1d')).toBe(false);
    expect(holds('attribute:zone !in [a]')).toBe(false);
    expect(holds('attribute:zone !~ a.*')).toBe(false);
    expect(holds('attribute:zone !exists')).toBe(true);
    expect(holds('not attribute:zone == us-east-1d')).toBe(true);
  });

  it('compares attributes as numbers when both sides are numeric, else as strings', () => {
    expect(holds('attribute:size > 9')).toBe(true); // "10" > "9" as strings would be false
    expect(holds('attribute:stack > pro')).toBe(true);
  });
});

describe('parseQuery: subjects', () => {
  it('agentConnected', () => {
    expect(holds('agentConnected == true')).toBe(true);
    expect(holds('agentConnected == false')).toBe(false);
    expect(holds('agentConnected in [false]', target({ agentConnected: false }))).toBe(true);
    expect(holds('agentConnected =~ t.*')).toBe(true);
    expect(holds('agentConnected != true', target({ agentConnected: false }))).toBe(true);
  });

  it('agentVersion compares dotted numbers', () => {
    expect(holds('agentVersion > 1.9.0')).toBe(true);
    expect(holds('agentVersion >= 1.14.5')).toBe(true);
    expect(holds('agentVersion <= 1.14.4')).toBe(false);
    expect(holds('agentVersion == 1.14.5')).toBe(true);
    expect(holds('agentVersion != 1.14.5')).toBe(false);
    expect(holds('agentVersion == 1.0.0', target({ agentVersion: undefined }))).toBe(false);
    expect(compareVersions('1.14', '1.14.0')).toBe(0);
    expect(compareVersions('v2.0.0', '1.99.99')).toBe(1);
  });

  it('ec2InstanceId', () => {
    expect(holds('ec2InstanceId == i-abcd1234')).toBe(true);
    expect(holds('ec2InstanceId != i-abcd1234')).toBe(false);
    expect(holds('ec2InstanceId !in [i-1, i-2]')).toBe(true);
    expect(holds('ec2InstanceId =~ i-abcd.*')).toBe(true);
    expect(holds('ec2InstanceId !~ i-abcd.*')).toBe(false);
    expect(holds('ec2InstanceId == i-1', target({ ec2InstanceId: '' }))).toBe(false);
  });

  it('registeredAt accepts the four ECS date formats', () => {
    expect(holds('registeredAt > 2018-06-18')).toBe(true);
    expect(holds('registeredAt == 2018-06-18T22:28:28Z')).toBe(true);
    expect(holds('registeredAt == 2018-06-18T22:28:28+00:00')).toBe(true);
    expect(holds('registeredAt == 2018-06-18T22:28:28')).toBe(true);
    expect(holds('registeredAt > 2018-06-18T23:28:28+02:00')).toBe(true); // 21:28:28Z
    expect(holds('registeredAt >= 2018-06-19')).toBe(false);
    expect(holds('registeredAt <= 2018-06-18T22:28:28Z')).toBe(true);
    expect(holds('registeredAt != 2018-06-18T22:28:28Z')).toBe(false);
    expect(parseQueryDate('2018-06-18')).toBe(Date.UTC(2018, 5, 18));
    expect(parseQueryDate('18/06/2018')).toBeUndefined();
  });

  it('runningTasksCount', () => {
    expect(holds('runningTasksCount == 1')).toBe(true);
    expect(holds('runningTasksCount != 1')).toBe(false);
    expect(holds('runningTasksCount > 0')).toBe(true);
    expect(holds('runningTasksCount >= 2')).toBe(false);
    expect(holds('runningTasksCount < 1')).toBe(false);
    expect(holds('runningTasksCount <= 1')).toBe(true);
  });

  it('task:group holds when any task on the instance is in the group', () => {
    expect(holds('task:group == service:production')).toBe(true);
    expect(holds('task:group == family:web')).toBe(false); // a zero count is no task
    expect(holds('task:group != databases')).toBe(true);
    expect(holds('task:group != service:production')).toBe(false);
    expect(holds('task:group in [databases, service:production]')).toBe(true);
    expect(holds('task:group !in [databases]')).toBe(true);
    expect(holds('task:group =~ service:.*')).toBe(true);
    expect(holds('task:group !~ service:.*')).toBe(false);
    expect(holds('task:group exists')).toBe(true);
    expect(holds('task:group !exists', target({ taskGroups: {} }))).toBe(true);
    expect(holds('task:group != databases', target({ taskGroups: {} }))).toBe(true);
  });

  it('marks expressions that placing tasks can change as dynamic', () => {
    expect(parseQuery('attribute:a == b').dynamic).toBe(false);
    expect(parseQuery('attribute:a == b or runningTasksCount < 3').dynamic).toBe(true);
    expect(parseQuery('not task:group == db').dynamic).toBe(true);
  });
});

describe('parseQuery: combinators and precedence', () => {
  it('binds not tighter than and, and tighter than or', () => {
    // a or (b and c)
    expect(holds('attribute:stack == prod or attribute:stack == x and attribute:stack == y')).toBe(
      true,
    );
    expect(
      holds('(attribute:stack == prod or attribute:stack == x) and attribute:stack == y'),
    ).toBe(false);
    // (not a) and b
    expect(holds('not attribute:stack == dev and attribute:size == 10')).toBe(true);
    expect(holds('! (attribute:stack == prod and attribute:size == 10)')).toBe(false);
    expect(holds('!!(attribute:stack == prod)')).toBe(true);
  });

  it('accepts the symbol and word forms alike', () => {
    const words = parseQuery(
      'not (attribute:a == b) and attribute:c exists or agentConnected == true',
    );
    const symbols = parseQuery(
      '!(attribute:a == b) && attribute:c exists || agentConnected == true',
    );
    const withoutPositions = (q: { ast: unknown }) =>
      JSON.parse(JSON.stringify(q.ast, (k, v: unknown) => (k === 'position' ? undefined : v)));
    expect(withoutPositions(symbols)).toEqual(withoutPositions(words));
    expect(words.ast.kind).toBe('or');
  });

  it('is left-associative', () => {
    const q = parseQuery('attribute:a exists and attribute:b exists and attribute:c exists');
    expect(q.ast).toMatchObject({ kind: 'and', left: { kind: 'and' } });
  });

  it('needs no spaces around operators and lists', () => {
    expect(holds('attribute:stack==prod&&attribute:size>=10')).toBe(true);
    expect(holds('attribute:stack in[dev,prod]')).toBe(true);
  });
});

describe('parseQuery: errors say where', () => {
  it.each([
    [
      'attribute:ecs.instance-type',
      "memberOf expression: expected an operator after 'attribute:ecs.instance-type' at position 27",
    ],
    [
      'attribute:ecs.instance-type t2.small',
      "expected an operator after 'attribute:ecs.instance-type' at position 28 (found 't2.small'",
    ],
    ['', 'expected an expression at position 0'],
    ['   ', 'expected an expression at position 0'],
    ['foo == bar', "unknown subject 'foo' at position 0"],
    ['attribute: == x', "expected an attribute name after 'attribute:' at position 10"],
    ['attribute:a ==', "expected a value after '==' at position 14"],
    ['attribute:a = b', "unexpected '=' at position 12"],
    ['attribute:a == b & attribute:c exists', "unexpected '&' at position 17"],
    ['attribute:a == b | attribute:c exists', "unexpected '|' at position 17"],
    [
      'attribute:a == b attribute:c exists',
      "expected 'and', 'or' or the end of the expression at position 17",
    ],
    ['(attribute:a == b', "expected ')' at position 17"],
    ['attribute:a == b)', "expected 'and', 'or' or the end of the expression at position 16"],
    ['attribute:a in a, b', "expected '[' or '(' to open the list after 'in' at position 15"],
    ['attribute:a in [a b]', "expected ',' or ']' in the list at position 18"],
    ['attribute:a in [a,', "expected a value after ',' at position 18"],
    ['attribute:a in []', "expected a value after '[' at position 16"],
    ['attribute:a == "open', 'unterminated string at position 15'],
    ['attribute:a =~ "("', "invalid regular expression '(' at position 15"],
    ['agentConnected > true', "operator '>' is not valid for 'agentConnected' at position 15"],
    ['agentVersion in [1.0]', "operator 'in' is not valid for 'agentVersion' at position 13"],
    ['registeredAt =~ 2018.*', "operator '=~' is not valid for 'registeredAt' at position 13"],
    ['task:group > a', "operator '>' is not valid for 'task:group' at position 11"],
    ['registeredAt < 2018-13-45', 'expected a date at position 15'],
    ['registeredAt < yesterday', 'expected a date at position 15'],
    ['runningTasksCount > many', 'expected a whole number at position 20'],
    ['attribute:a exists and', 'expected a subject at position 22'],
    ['and attribute:a exists', "unknown subject 'and' at position 0"],
    ['attribute:a ! exists', "expected an operator after 'attribute:a' at position 12"],
    ['not', 'expected a subject at position 3'],
  ])('%j', (expression, message) => {
    const error = errorOf(expression);
    expect(error).toContain(message);
    expect(error.startsWith('memberOf expression: ')).toBe(true);
  });

  it('refuses more than 2000 characters and takes exactly 2000', () => {
    const clause = 'attribute:a exists or ';
    let expr = clause.repeat(Math.ceil(MAX_EXPRESSION_LENGTH / clause.length));
    expr = expr.slice(0, MAX_EXPRESSION_LENGTH - 'attribute:a exists'.length);
    expr = expr.slice(0, expr.lastIndexOf(' or ') + 4);
    expr = expr + 'attribute:zzz' + ' '.repeat(0);
    expr = expr.padEnd(MAX_EXPRESSION_LENGTH - ' exists'.length, 'z') + ' exists';
    expect(expr).toHaveLength(MAX_EXPRESSION_LENGTH);
    expect(() => parseQuery(expr)).not.toThrow();
    expect(errorOf(`${expr} `)).toBe('memberOf expression: longer than 2000 characters (2001)');
  });

  it('takes the context for its messages', () => {
    expect(() => parseQuery('x', 'filter')).toThrow(/^filter: unknown subject 'x' at position 0/);
  });
});
