import { InvalidParameterError } from '../errors';

/**
 * The ECS cluster query language: `subject operator [argument]`, combined with
 * and/&&, or/||, not/! and parentheses.
 *
 * Decisions where the ECS guide is silent or loose (documented so `explain` can be trusted):
 * - Argument lists may be written `[a, b]` (the ECS guide) or `(a, b)`.
 * - Values are bare words or quoted with '…' or "…". A bare word ends at whitespace or at one
 *   of `( ) [ ] , ' " = ! < > & |`; quote a value that contains them. A bare regular
 *   expression (after =~ / !~) may hold balanced brackets and parentheses and `|`
 *   (`i-[0-3].*`, `g2\.(2x|8x)large`) and ends at whitespace, `&&`, `||` or an unbalanced `)`.
 *   Keywords (`and`, `or`, `not`, word operators) are lower case.
 * - `=~` / `!~` are regular-expression matches of the WHOLE value (Java `Pattern.matches`,
 *   as ECS documents), written in JavaScript RegExp syntax: `t2.*` matches `t2.small`;
 *   `t2` does not match `t2.small`. It is not a glob.
 * - A comparison on an attribute the instance does not have is false, for the negative
 *   operators too (`attribute:stack != prod` selects instances that HAVE `stack`, unless it is
 *   prod — the ECS guide's reading); only `!exists` is true. Use `not (…)` for "absent or
 *   different".
 * - `task:group` is the set of groups of the tasks on the instance: `==`, `in`, `=~` hold when
 *   ANY task's group matches; `!=`, `!in`, `!~` are their negations (an empty instance
 *   satisfies `task:group != databases`); `exists` means the instance runs any task.
 * - Ordering (`> >= < <=`): agentVersion compares dotted numbers (1.9.0 < 1.14.5);
 *   registeredAt compares instants (date-only and zone-less dates are UTC); runningTasksCount
 *   compares integers; attributes compare as numbers when both sides are numeric, else as
 *   strings. `==` on agentVersion/registeredAt compares the same way (1.14 == 1.14.0).
 * - Operators are checked per subject as the ECS guide lists them.
 */

export const MAX_EXPRESSION_LENGTH = 2000;

export type QueryOperator =
  '==' | '!=' | '>' | '>=' | '<' | '<=' | 'exists' | '!exists' | 'in' | '!in' | '=~' | '!~';

export type QuerySubject =
  | { kind: 'agentConnected' }
  | { kind: 'agentVersion' }
  | { kind: 'attribute'; name: string }
  | { kind: 'ec2InstanceId' }
  | { kind: 'registeredAt' }
  | { kind: 'runningTasksCount' }
  | { kind: 'taskGroup' };

export interface QueryComparison {
  kind: 'compare';
  subject: QuerySubject;
  operator: QueryOperator;
  /** One value, a list for in/!in, none for exists/!exists. */
  values: string[];
  /** Character offset of the subject in the expression. */
  position: number;
  /** Compiled for =~ / !~ (anchored). */
  regex?: RegExp;
  /** registeredAt values as epoch ms, runningTasksCount values as integers. */
  numbers?: number[];
}

export type QueryNode =
  | QueryComparison
  | { kind: 'and'; left: QueryNode; right: QueryNode }
  | { kind: 'or'; left: QueryNode; right: QueryNode }
  | { kind: 'not'; operand: QueryNode };

/** What an expression is evaluated against: one container instance. */
export interface QueryTarget {
  ec2InstanceId?: string;
  agentConnected: boolean;
  agentVersion?: string;
  /** Epoch milliseconds. */
  registeredAt: number;
  runningTasksCount: number;
  /** Attribute name → value; an attribute without a value maps to ''. */
  attributes: Readonly<Record<string, string>>;
  /** Task group → number of (non-stopped) tasks of that group on the instance. */
  taskGroups: Readonly<Record<string, number>>;
}

export interface ParsedQuery {
  expression: string;
  ast: QueryNode;
  /** True when the result can change as tasks are placed (runningTasksCount, task:group). */
  dynamic: boolean;
}

const ORDERING: QueryOperator[] = ['==', '!=', '>', '>=', '<', '<='];
const MATCHING: QueryOperator[] = ['==', '!=', 'in', '!in', '=~', '!~'];
const ALL: QueryOperator[] = [...ORDERING, 'exists', '!exists', 'in', '!in', '=~', '!~'];
const VALID_OPERATORS: Record<QuerySubject['kind'], QueryOperator[]> = {
  agentConnected: MATCHING,
  agentVersion: ORDERING,
  attribute: ALL,
  ec2InstanceId: MATCHING,
  registeredAt: ORDERING,
  runningTasksCount: ORDERING,
  taskGroup: [...MATCHING, 'exists', '!exists'],
};

const WORD_OPERATORS: Record<string, QueryOperator> = {
  equals: '==',
  not_equals: '!=',
  greater_than: '>',
  greater_than_equal: '>=',
  less_than: '<',
  less_than_equal: '<=',
  exists: 'exists',
  not_exists: '!exists',
  in: 'in',
  not_in: '!in',
  matches: '=~',
  not_matches: '!~',
};

const SUBJECTS_EXPECTED =
  'agentConnected, agentVersion, attribute:<name>, ec2InstanceId, registeredAt, runningTasksCount or task:group';

type TokenKind = 'word' | 'string' | 'op' | '(' | ')' | '[' | ']' | ',' | '&&' | '||' | '!' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  position: number;
}

const WORD_STOP = new Set([...'()[],\'"=!<>&|']);

/** After `=~`, `!~`, `matches` or `not_matches` comes a regular expression. */
function expectsPattern(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  if (!last) return false;
  if (last.kind === 'op') return last.text === '=~' || last.text === '!~';
  const before = tokens[tokens.length - 2];
  return (
    last.kind === 'word' &&
    (last.text === 'matches' || last.text === 'not_matches') &&
    before?.kind === 'word'
  );
}

/**
 * A bare regular expression may hold brackets, parentheses and `|` (`i-[0-3].*`,
 * `g2\.(2x|8x)large`): it ends at whitespace, `&&`, `||` or a `)` that closes an outer
 * group, outside any bracket or parenthesis of its own.
 */
function patternEnd(src: string, i: number): number {
  let depth = 0;
  while (i < src.length) {
    const c = src[i];
    if (depth === 0) {
      if (/\s/.test(c) || c === ')') break;
      const two = src.slice(i, i + 2);
      if (two === '&&' || two === '||') break;
    }
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '(' || c === '[') depth++;
    else if ((c === ')' || c === ']') && depth > 0) depth--;
    i++;
  }
  return Math.min(i, src.length);
}

function tokenize(
  src: string,
  fail: (msg: string, position: number, hint?: string) => never,
): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    const two = src.slice(i, i + 2);
    if (c !== "'" && c !== '"' && expectsPattern(tokens)) {
      i = patternEnd(src, i);
      tokens.push({ kind: 'word', text: src.slice(start, i), position: start });
    } else if (
      two === '==' ||
      two === '!=' ||
      two === '>=' ||
      two === '<=' ||
      two === '=~' ||
      two === '!~'
    ) {
      tokens.push({ kind: 'op', text: two, position: start });
      i += 2;
    } else if (two === '&&' || two === '||') {
      tokens.push({ kind: two, text: two, position: start });
      i += 2;
    } else if (c === '>' || c === '<') {
      tokens.push({ kind: 'op', text: c, position: start });
      i++;
    } else if (c === '!') {
      tokens.push({ kind: '!', text: c, position: start });
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',') {
      tokens.push({ kind: c, text: c, position: start });
      i++;
    } else if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0) fail(`unterminated string`, start, `no closing ${c}`);
      tokens.push({ kind: 'string', text: src.slice(i + 1, end), position: start });
      i = end + 1;
    } else if (c === '=') {
      fail(`unexpected '='`, start, `use '==' or '=~'`);
    } else if (c === '&' || c === '|') {
      fail(`unexpected '${c}'`, start, `use '${c}${c}'`);
    } else {
      while (i < src.length && !/\s/.test(src[i]) && !WORD_STOP.has(src[i])) i++;
      tokens.push({ kind: 'word', text: src.slice(start, i), position: start });
    }
  }
  tokens.push({ kind: 'end', text: '', position: src.length });
  return tokens;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** ECS registeredAt formats: 2018-06-18T22:28:28+00:00, …Z, 2018-06-18T22:28:28, 2018-06-18. */
export function parseQueryDate(value: string): number | undefined {
  if (!DATE_RE.test(value)) return undefined;
  const withZone =
    value.length === 10
      ? `${value}T00:00:00Z`
      : /Z|[+-]\d{2}:\d{2}$/.test(value.slice(19))
        ? value
        : `${value}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Parses a cluster query language expression. Throws InvalidParameterError naming the
 * character offset (0-based) where it fails and what was expected there, prefixed by
 * `context` (e.g. `memberOf expression`).
 */
export function parseQuery(expression: string, context = 'memberOf expression'): ParsedQuery {
  const fail = (msg: string, position: number, hint?: string): never => {
    throw new InvalidParameterError(
      `${context}: ${msg} at position ${position}${hint ? ` (${hint})` : ''}`,
    );
  };
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    throw new InvalidParameterError(
      `${context}: longer than ${MAX_EXPRESSION_LENGTH} characters (${expression.length})`,
    );
  }
  const tokens = tokenize(expression, fail);
  let at = 0;
  let dynamic = false;
  const peek = () => tokens[at];
  const next = () => tokens[at++];
  const describe = (t: Token) => (t.kind === 'end' ? 'the end of the expression' : `'${t.text}'`);
  const isWord = (t: Token, w: string) => t.kind === 'word' && t.text === w;

  function parseOr(): QueryNode {
    let left = parseAnd();
    while (peek().kind === '||' || isWord(peek(), 'or')) {
      next();
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  }
  function parseAnd(): QueryNode {
    let left = parseUnary();
    while (peek().kind === '&&' || isWord(peek(), 'and')) {
      next();
      left = { kind: 'and', left, right: parseUnary() };
    }
    return left;
  }
  function parseUnary(): QueryNode {
    if (peek().kind === '!' || isWord(peek(), 'not')) {
      next();
      return { kind: 'not', operand: parseUnary() };
    }
    return parsePrimary();
  }
  function parsePrimary(): QueryNode {
    const t = peek();
    if (t.kind === '(') {
      next();
      const inner = parseOr();
      const close = peek();
      if (close.kind !== ')') {
        fail(
          `expected ')'`,
          close.position,
          `found ${describe(close)}; the '(' at position ${t.position} is not closed`,
        );
      }
      next();
      return inner;
    }
    if (t.kind !== 'word') {
      return fail(
        `expected a subject`,
        t.position,
        `found ${describe(t)}; subjects: ${SUBJECTS_EXPECTED}`,
      );
    }
    return parseComparison();
  }
  function parseSubject(t: Token): QuerySubject {
    switch (t.text) {
      case 'agentConnected':
      case 'agentVersion':
      case 'ec2InstanceId':
      case 'registeredAt':
      case 'runningTasksCount':
        if (t.text === 'runningTasksCount') dynamic = true;
        return { kind: t.text };
      case 'task:group':
        dynamic = true;
        return { kind: 'taskGroup' };
    }
    if (t.text.startsWith('attribute:')) {
      const name = t.text.slice('attribute:'.length);
      if (!name) fail(`expected an attribute name after 'attribute:'`, t.position + 10);
      return { kind: 'attribute', name };
    }
    return fail(`unknown subject '${t.text}'`, t.position, `expected ${SUBJECTS_EXPECTED}`);
  }
  function parseOperator(subjectToken: Token): QueryOperator {
    const t = peek();
    if (t.kind === 'op') {
      next();
      return t.text as QueryOperator;
    }
    if (t.kind === 'word' && WORD_OPERATORS[t.text]) {
      next();
      return WORD_OPERATORS[t.text];
    }
    if (t.kind === '!') {
      const after = tokens[at + 1];
      if (after.position === t.position + 1 && (isWord(after, 'exists') || isWord(after, 'in'))) {
        at += 2;
        return `!${after.text}` as QueryOperator;
      }
    }
    return fail(
      `expected an operator after '${subjectToken.text}'`,
      t.position,
      `found ${describe(t)}; operators: == != > >= < <= exists !exists in !in =~ !~`,
    );
  }
  function parseValue(after: string): Token {
    const t = peek();
    if (t.kind !== 'word' && t.kind !== 'string') {
      return fail(`expected a value after '${after}'`, t.position, `found ${describe(t)}`);
    }
    return next();
  }
  function parseList(after: string): Token[] {
    const open = peek();
    if (open.kind !== '[' && open.kind !== '(') {
      return fail(
        `expected '[' or '(' to open the list after '${after}'`,
        open.position,
        `found ${describe(open)}`,
      );
    }
    next();
    const closeKind = open.kind === '[' ? ']' : ')';
    const values = [parseValue(open.text)];
    for (;;) {
      const t = peek();
      if (t.kind === closeKind) {
        next();
        return values;
      }
      if (t.kind !== ',') {
        return fail(
          `expected ',' or '${closeKind}' in the list`,
          t.position,
          `found ${describe(t)}`,
        );
      }
      next();
      values.push(parseValue(','));
    }
  }
  function parseComparison(): QueryComparison {
    const subjectToken = next();
    const subject = parseSubject(subjectToken);
    const opToken = peek();
    const operator = parseOperator(subjectToken);
    if (!VALID_OPERATORS[subject.kind].includes(operator)) {
      fail(
        `operator '${operator}' is not valid for '${subjectToken.text}'`,
        opToken.position,
        `valid: ${VALID_OPERATORS[subject.kind].join(' ')}`,
      );
    }
    let valueTokens: Token[] = [];
    if (operator === 'in' || operator === '!in') valueTokens = parseList(operator);
    else if (operator !== 'exists' && operator !== '!exists') valueTokens = [parseValue(operator)];
    const values = valueTokens.map((v) => v.text);
    const node: QueryComparison = {
      kind: 'compare',
      subject,
      operator,
      values,
      position: subjectToken.position,
    };
    if (operator === '=~' || operator === '!~') {
      try {
        node.regex = new RegExp(`^(?:${values[0]})$`);
      } catch (err) {
        fail(
          `invalid regular expression '${values[0]}'`,
          valueTokens[0].position,
          (err as Error).message,
        );
      }
    }
    if (subject.kind === 'registeredAt') {
      node.numbers = valueTokens.map((v) => {
        const ms = parseQueryDate(v.text);
        if (ms === undefined) {
          fail(
            `expected a date`,
            v.position,
            `found '${v.text}'; formats: 2018-06-18T22:28:28+00:00, 2018-06-18T22:28:28Z, 2018-06-18T22:28:28, 2018-06-18`,
          );
        }
        return ms!;
      });
    }
    if (subject.kind === 'runningTasksCount') {
      node.numbers = valueTokens.map((v) => {
        if (!/^\d+$/.test(v.text)) fail(`expected a whole number`, v.position, `found '${v.text}'`);
        return Number(v.text);
      });
    }
    return node;
  }

  if (peek().kind === 'end') fail('expected an expression', 0);
  const ast = parseOr();
  const rest = peek();
  if (rest.kind !== 'end') {
    fail(
      `expected 'and', 'or' or the end of the expression`,
      rest.position,
      `found ${describe(rest)}`,
    );
  }
  return { expression, ast, dynamic };
}

/** Evaluates a parsed expression against one instance. */
export function evaluateQuery(query: ParsedQuery | QueryNode, target: QueryTarget): boolean {
  return evaluateNode('ast' in query ? query.ast : query, target);
}

function evaluateNode(node: QueryNode, target: QueryTarget): boolean {
  switch (node.kind) {
    case 'and':
      return evaluateNode(node.left, target) && evaluateNode(node.right, target);
    case 'or':
      return evaluateNode(node.left, target) || evaluateNode(node.right, target);
    case 'not':
      return !evaluateNode(node.operand, target);
    case 'compare':
      return node.subject.kind === 'taskGroup'
        ? compareTaskGroup(node, target)
        : compare(node, target);
  }
}

function hasGroup(t: QueryTarget, group: string): boolean {
  return (t.taskGroups[group] ?? 0) > 0;
}

function compareTaskGroup(node: QueryComparison, t: QueryTarget): boolean {
  switch (node.operator) {
    case 'exists':
    case '!exists': {
      let any = false;
      for (const g in t.taskGroups) if (t.taskGroups[g] > 0) any = true;
      return node.operator === 'exists' ? any : !any;
    }
    case '==':
      return hasGroup(t, node.values[0]);
    case '!=':
      return !hasGroup(t, node.values[0]);
    case 'in':
      return node.values.some((v) => hasGroup(t, v));
    case '!in':
      return !node.values.some((v) => hasGroup(t, v));
    case '=~':
    case '!~': {
      let any = false;
      for (const g in t.taskGroups) if (t.taskGroups[g] > 0 && node.regex!.test(g)) any = true;
      return node.operator === '=~' ? any : !any;
    }
    default:
      return false;
  }
}

/** The subject's value on the instance, as text; undefined when the instance has none. */
function subjectValue(node: QueryComparison, t: QueryTarget): string | undefined {
  const subject = node.subject;
  switch (subject.kind) {
    case 'agentConnected':
      return t.agentConnected ? 'true' : 'false';
    case 'agentVersion':
      return t.agentVersion || undefined;
    case 'ec2InstanceId':
      return t.ec2InstanceId || undefined;
    case 'registeredAt':
    case 'runningTasksCount':
      return ''; // compared as numbers, see `order`
    case 'attribute':
      return Object.prototype.hasOwnProperty.call(t.attributes, subject.name)
        ? t.attributes[subject.name]
        : undefined;
    case 'taskGroup':
      return undefined;
  }
}

/** Sign of (the instance's value − the k-th argument) in the subject's own order. */
function order(node: QueryComparison, t: QueryTarget, actual: string, k: number): number {
  switch (node.subject.kind) {
    case 'agentVersion':
      return compareVersions(actual, node.values[k]);
    case 'registeredAt':
      return Math.sign(t.registeredAt - node.numbers![k]);
    case 'runningTasksCount':
      return Math.sign(t.runningTasksCount - node.numbers![k]);
    case 'attribute':
      return compareLoose(actual, node.values[k]);
    default:
      return cmpString(actual, node.values[k]);
  }
}

function compare(node: QueryComparison, t: QueryTarget): boolean {
  const actual = subjectValue(node, t);
  const operator = node.operator;
  if (operator === 'exists') return actual !== undefined;
  if (operator === '!exists') return actual === undefined;
  if (actual === undefined) return false;
  switch (operator) {
    case '==':
      return order(node, t, actual, 0) === 0;
    case '!=':
      return order(node, t, actual, 0) !== 0;
    case '>':
      return order(node, t, actual, 0) > 0;
    case '>=':
      return order(node, t, actual, 0) >= 0;
    case '<':
      return order(node, t, actual, 0) < 0;
    case '<=':
      return order(node, t, actual, 0) <= 0;
    case 'in':
    case '!in': {
      let found = false;
      for (let k = 0; k < node.values.length && !found; k++)
        found = order(node, t, actual, k) === 0;
      return operator === 'in' ? found : !found;
    }
    case '=~':
      return node.regex!.test(actual);
    case '!~':
      return !node.regex!.test(actual);
  }
}

function cmpString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const NUMERIC = /^-?\d+(\.\d+)?$/;
function compareLoose(a: string, b: string): number {
  if (NUMERIC.test(a) && NUMERIC.test(b)) return Math.sign(Number(a) - Number(b));
  return cmpString(a, b);
}

/** Dotted versions, numerically per part (1.9.0 < 1.14.5; 1.14 == 1.14.0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.');
  const pb = b.replace(/^v/, '').split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const c =
      /^\d+$/.test(x) && /^\d+$/.test(y) ? Math.sign(Number(x) - Number(y)) : cmpString(x, y);
    if (c !== 0) return c;
  }
  return 0;
}
