/**
 * Parser of the MAA policy language (MicrosoftDocs azure-docs articles/attestation/claim-rule-grammar.md,
 * policy-version-1-0.md, -1-1.md, -1-2.md, policy-examples.md):
 *
 *   policy    := 'version' '=' NUMBER ';' section*
 *   section   := ('configurationrules' | 'authorizationrules' | 'issuancerules') '{' rule* '}' ';'?
 *   rule      := [ when ] '=>' action ';'?
 *   when      := conj ( '||' conj )*          conj := cond ( '&&' cond )*
 *   cond      := [ IDENT ':' ] '[' test ( ',' test )* ']'
 *   test      := ('type' | 'value' | 'valueType' | 'issuer') op operand       op := == != < <= > >= (and '=' for ==)
 *   operand   := STRING | INTEGER | 'true' | 'false' | IDENT '.' property
 *   action    := 'permit' '(' ')' | 'deny' '(' ')'
 *              | ('issue' | 'add' | 'issueproperty') '(' ( 'claim' '=' IDENT | arg ( ',' arg )* ) ')'
 *   arg       := ('type' | 'value' | 'valueType') '=' operand
 *
 * `configurationrules` needs version 1.1 or later; `permit`/`deny` belong to authorizationrules, `issue` to
 * issuancerules, `issueproperty` to configurationrules and issuancerules, `add` to authorization and issuance rules.
 * The `=` in tests is accepted because Microsoft's own example in author-sign-policy.md writes `type="…"`, and the rule
 * terminator `;` is optional for the same reason. Every error is a MaaPolicyError with line and column; the text and
 * its rule counts are bounded so a hostile policy cannot cost more than linear time.
 */
import {
  CLAIM_PROPERTIES,
  POLICY_VERSIONS,
  SECTIONS,
  type Action,
  type ClaimProperty,
  type Condition,
  type MaaPolicy,
  type Operand,
  type Operator,
  type PolicyVersion,
  type PropertyTest,
  type Rule,
  type SectionName,
} from './ast.js';
import { MaaPolicyError } from './errors.js';
import { tokenize, type Token } from './lexer.js';

/** Longest policy text accepted (characters). */
export const MAX_POLICY_TEXT = 256 * 1024;
/** Most rules in one policy, and most conditions (or tests) in one rule. */
export const MAX_RULES = 2048;
export const MAX_CONDITIONS = 64;

const OPERATORS: ReadonlySet<string> = new Set(['==', '!=', '<', '<=', '>', '>=']);
const ORDERING: ReadonlySet<string> = new Set(['<', '<=', '>', '>=']);
const VALUE_TYPES = ['String', 'Integer', 'Boolean'];
const ISSUERS = ['AttestationService', 'AttestationPolicy', 'CustomClaim'];

const ALLOWED: Record<SectionName, readonly string[]> = {
  configurationrules: ['issueproperty'],
  authorizationrules: ['permit', 'deny', 'add'],
  issuancerules: ['issue', 'add', 'issueproperty'],
};

class Parser {
  readonly #t: Token[];
  #i = 0;
  #rules = 0;

  constructor(tokens: Token[]) {
    this.#t = tokens;
  }

  peek(): Token {
    return this.#t[this.#i]!;
  }

  next(): Token {
    const t = this.#t[this.#i]!;
    if (t.kind !== 'eof') this.#i++;
    return t;
  }

  fail(t: Token, message: string): never {
    throw new MaaPolicyError('POLICY_SYNTAX', message, t.line, t.column);
  }

  shown(t: Token): string {
    return t.kind === 'eof' ? 'the end of the policy' : `"${t.text.length > 40 ? `${t.text.slice(0, 40)}…` : t.text}"`;
  }

  isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === text;
  }

  expectPunct(text: string, what = `"${text}"`): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text) this.fail(t, `expected ${what}, found ${this.shown(t)}`);
    return t;
  }

  expectIdent(what: string): Token {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(t, `expected ${what}, found ${this.shown(t)}`);
    return t;
  }

  policy(text: string): MaaPolicy {
    const v = this.expectIdent('"version"');
    if (v.text !== 'version') this.fail(v, `a policy starts with "version=1.0;", found ${this.shown(v)}`);
    this.expectPunct('=');
    const n = this.next();
    if (n.kind !== 'number' || !(POLICY_VERSIONS as readonly string[]).includes(n.text)) {
      this.fail(n, `unsupported policy version ${this.shown(n)}; expected one of ${POLICY_VERSIONS.join(', ')}`);
    }
    const version = n.text as PolicyVersion;
    this.expectPunct(';', '";" after the version');
    const sections: Partial<Record<SectionName, Rule[]>> = {};
    while (this.peek().kind !== 'eof') {
      const s = this.expectIdent('a section name (configurationrules, authorizationrules, issuancerules)');
      if (!(SECTIONS as readonly string[]).includes(s.text)) {
        this.fail(s, `unknown section ${this.shown(s)}; expected configurationrules, authorizationrules or issuancerules`);
      }
      const name = s.text as SectionName;
      if (sections[name] !== undefined) this.fail(s, `section ${name} appears twice`);
      if (name === 'configurationrules' && version === '1.0') this.fail(s, 'configurationrules needs policy version 1.1 or later');
      this.expectPunct('{', `"{" after ${name}`);
      const rules: Rule[] = [];
      while (!this.isPunct('}')) {
        if (this.peek().kind === 'eof') this.fail(this.peek(), `missing "}" to close ${name}`);
        rules.push(this.rule(name));
      }
      this.expectPunct('}');
      if (this.isPunct(';')) this.next();
      sections[name] = rules;
    }
    return Object.freeze({
      version,
      configurationrules: Object.freeze(sections.configurationrules ?? []),
      authorizationrules: Object.freeze(sections.authorizationrules ?? []),
      issuancerules: Object.freeze(sections.issuancerules ?? []),
      text,
    });
  }

  rule(section: SectionName): Rule {
    const start = this.peek();
    if (++this.#rules > MAX_RULES) this.fail(start, `more than ${MAX_RULES} rules`);
    const when: Condition[][] = [];
    if (!this.isPunct('=>')) {
      let conj: Condition[] = [this.condition()];
      let count = 1;
      for (;;) {
        if (this.isPunct('&&')) {
          this.next();
          conj.push(this.condition());
        } else if (this.isPunct('||')) {
          this.next();
          when.push(conj);
          conj = [this.condition()];
        } else break;
        if (++count > MAX_CONDITIONS) this.fail(this.peek(), `more than ${MAX_CONDITIONS} conditions in one rule`);
      }
      when.push(conj);
    }
    this.expectPunct('=>', '"=>" before the action');
    const action = this.action(section);
    if (this.isPunct(';')) this.next();
    // Every identifier an action or a test refers to is bound by a condition of the same conjunction, earlier.
    const actionRefs = refsOfAction(action);
    for (const conj of when.length > 0 ? when : [[]]) {
      const bound = new Set<string>();
      for (const c of conj) {
        for (const t of c.tests) {
          if (t.operand.kind === 'ref' && !bound.has(t.operand.id)) {
            throw new MaaPolicyError('POLICY_SYNTAX', `identifier "${t.operand.id}" is not bound by an earlier condition`, t.operand.line, t.operand.column);
          }
        }
        if (c.id !== undefined) {
          if (bound.has(c.id)) throw new MaaPolicyError('POLICY_SYNTAX', `identifier "${c.id}" is bound twice`, c.line, c.column);
          bound.add(c.id);
        }
      }
      for (const r of actionRefs) {
        if (!bound.has(r.id)) throw new MaaPolicyError('POLICY_SYNTAX', `identifier "${r.id}" is not bound by a condition of this rule${when.length > 1 ? ' (in every "||" branch)' : ''}`, r.line, r.column);
      }
    }
    return Object.freeze({ line: start.line, column: start.column, when: Object.freeze(when.map((c) => Object.freeze(c))), action });
  }

  condition(): Condition {
    const start = this.peek();
    let id: string | undefined;
    if (start.kind === 'ident') {
      this.next();
      this.expectPunct(':', `":" after the identifier "${start.text}"`);
      id = start.text;
    }
    const open = this.expectPunct('[', 'a condition "[type==…]"');
    const tests: PropertyTest[] = [this.test()];
    while (this.isPunct(',')) {
      this.next();
      if (tests.length >= MAX_CONDITIONS) this.fail(this.peek(), `more than ${MAX_CONDITIONS} tests in one condition`);
      tests.push(this.test());
    }
    this.expectPunct(']', '"," or "]"');
    return Object.freeze({ id, tests: Object.freeze(tests), line: id === undefined ? open.line : start.line, column: id === undefined ? open.column : start.column });
  }

  property(t: Token): ClaimProperty {
    if (t.kind !== 'ident' || !(CLAIM_PROPERTIES as readonly string[]).includes(t.text)) {
      this.fail(t, `expected a claim property (type, value, valueType, issuer), found ${this.shown(t)}`);
    }
    return t.text as ClaimProperty;
  }

  test(): PropertyTest {
    const p = this.next();
    const property = this.property(p);
    const o = this.next();
    let op: Operator;
    if (o.kind === 'punct' && OPERATORS.has(o.text)) op = o.text as Operator;
    else if (o.kind === 'punct' && o.text === '=') op = '==';
    else this.fail(o, `expected a comparison (==, !=, <, <=, >, >=) after ${property}, found ${this.shown(o)}`);
    const operand = this.operand();
    if (ORDERING.has(op)) {
      if (property !== 'value') this.fail(o, `"${op}" compares integers; ${property} is not an integer`);
      if (operand.kind === 'literal' && typeof operand.value !== 'number') this.fail(o, `"${op}" needs an integer on its right`);
    }
    if (operand.kind === 'literal') {
      if ((property === 'type' || property === 'issuer' || property === 'valueType') && typeof operand.value !== 'string') {
        this.fail(this.#t[this.#i - 1]!, `${property} is compared with a string`);
      }
      if (property === 'valueType' && !VALUE_TYPES.includes(operand.value as string)) {
        this.fail(this.#t[this.#i - 1]!, `valueType is one of ${VALUE_TYPES.join(', ')}`);
      }
      if (property === 'issuer' && !ISSUERS.includes(operand.value as string)) {
        this.fail(this.#t[this.#i - 1]!, `issuer is one of ${ISSUERS.join(', ')}`);
      }
    }
    return Object.freeze({ property, op, operand, line: p.line, column: p.column });
  }

  operand(): Operand {
    const t = this.next();
    if (t.kind === 'string') return Object.freeze({ kind: 'literal', value: t.value, line: t.line, column: t.column });
    if (t.kind === 'number') {
      const n = Number(t.text);
      if (!/^-?[0-9]+$/.test(t.text) || !Number.isSafeInteger(n)) this.fail(t, `${this.shown(t)} is not an integer in the safe range`);
      return Object.freeze({ kind: 'literal', value: n, line: t.line, column: t.column });
    }
    if (t.kind === 'ident') {
      if (t.text === 'true' || t.text === 'false') return Object.freeze({ kind: 'literal', value: t.text === 'true', line: t.line, column: t.column });
      this.expectPunct('.', `"." after "${t.text}" (a claim reference such as c.value)`);
      const property = this.property(this.next());
      return Object.freeze({ kind: 'ref', id: t.text, property, line: t.line, column: t.column });
    }
    this.fail(t, `expected a value (a "string", an integer, true, false or c.value), found ${this.shown(t)}`);
  }

  action(section: SectionName): Action {
    const t = this.expectIdent('an action (permit, deny, issue, add, issueproperty)');
    const name = t.text;
    if (!['permit', 'deny', 'issue', 'add', 'issueproperty'].includes(name)) {
      this.fail(t, `unknown action ${this.shown(t)}; expected permit, deny, issue, add or issueproperty`);
    }
    if (!ALLOWED[section].includes(name)) this.fail(t, `${name}() is not allowed in ${section}`);
    this.expectPunct('(', `"(" after ${name}`);
    const pos = { line: t.line, column: t.column };
    if (name === 'permit' || name === 'deny') {
      this.expectPunct(')', `")": ${name}() takes no arguments`);
      return Object.freeze({ kind: 'decision' as const, name, ...pos });
    }
    const n = name as 'issue' | 'add' | 'issueproperty';
    const first = this.expectIdent('claim=…, or type=… and value=…');
    if (first.text === 'claim') {
      this.expectPunct('=');
      const id = this.expectIdent('an identifier bound by a condition');
      this.expectPunct(')', '")"');
      return Object.freeze({ kind: 'copy' as const, name: n, claim: id.text, ...pos, refLine: id.line, refColumn: id.column });
    }
    const args: Partial<Record<'type' | 'value' | 'valueType', Operand>> = {};
    let argTok: Token = first;
    for (;;) {
      if (!['type', 'value', 'valueType'].includes(argTok.text)) this.fail(argTok, `unknown argument ${this.shown(argTok)} of ${n}(); expected type, value or valueType`);
      const key = argTok.text as 'type' | 'value' | 'valueType';
      if (args[key] !== undefined) this.fail(argTok, `argument ${key} given twice`);
      this.expectPunct('=', `"=" after ${key}`);
      args[key] = this.operand();
      if (this.isPunct(')')) break;
      this.expectPunct(',', '"," or ")"');
      argTok = this.expectIdent('an argument name');
    }
    this.expectPunct(')');
    if (args.type === undefined || args.value === undefined) this.fail(t, `${n}() needs type=… and value=… (or claim=…)`);
    if (args.type.kind === 'literal' && typeof args.type.value !== 'string') this.fail(t, `${n}(): type must be a string`);
    let valueType: string | undefined;
    if (args.valueType !== undefined) {
      if (args.valueType.kind !== 'literal' || !VALUE_TYPES.includes(String(args.valueType.value))) this.fail(t, `${n}(): valueType is one of ${VALUE_TYPES.join(', ')}`);
      valueType = String(args.valueType.value);
    }
    return Object.freeze({ kind: 'new' as const, name: n, type: args.type, value: args.value, valueType, ...pos });
  }
}

function refsOfAction(a: Action): { id: string; line: number; column: number }[] {
  if (a.kind === 'decision') return [];
  if (a.kind === 'copy') return [{ id: a.claim, line: a.refLine, column: a.refColumn }];
  return [a.type, a.value].filter((o): o is Extract<Operand, { kind: 'ref' }> => o.kind === 'ref').map((o) => ({ id: o.id, line: o.line, column: o.column }));
}

/** Parses policy text; MaaPolicyError (POLICY_SYNTAX / POLICY_TOO_LARGE, with line and column) when it is not valid. */
export function parseMaaPolicy(text: string): MaaPolicy {
  if (typeof text !== 'string') throw new MaaPolicyError('POLICY_SYNTAX', 'the policy is not text', 1, 1);
  if (text.length > MAX_POLICY_TEXT) throw new MaaPolicyError('POLICY_TOO_LARGE', `the policy is longer than ${MAX_POLICY_TEXT} characters`, 1, 1);
  return new Parser(tokenize(text)).policy(text);
}
