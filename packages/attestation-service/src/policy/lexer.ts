/**
 * Tokens of the MAA policy language (MicrosoftDocs azure-docs articles/attestation/claim-rule-grammar.md,
 * author-sign-policy.md, policy-version-1-0/1-1/1-2.md): identifiers, double-quoted strings, integers and `1.0`-style
 * numbers, and the punctuation `=> == != <= >= < > = && || : ; , . ( ) [ ] { }`. `//` and `/* … *\/` comments are
 * skipped. Every token carries its 1-based line and column.
 */
import { MaaPolicyError } from './errors.js';

export type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Strings: the unescaped value. */
  readonly value: string;
  readonly line: number;
  readonly column: number;
}

const PUNCT2 = ['=>', '==', '!=', '<=', '>=', '&&', '||'];
const PUNCT1 = '=<>:;,.()[]{}';

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\uFEFF') {
      advance(1);
      continue;
    }
    if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (text.startsWith('/*', i)) {
      const l = line;
      const c = col;
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new MaaPolicyError('POLICY_SYNTAX', 'unterminated comment', l, c);
      advance(end + 2 - i);
      continue;
    }
    const startLine = line;
    const startCol = col;
    if (/[A-Za-z_$]/.test(ch)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_$-]/.test(text[j]!)) j++;
      const word = text.slice(i, j);
      tokens.push({ kind: 'ident', text: word, value: word, line: startLine, column: startCol });
      advance(j - i);
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === '-' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      if (text[j] === '.' && /[0-9]/.test(text[j + 1] ?? '')) {
        j++;
        while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      }
      const num = text.slice(i, j);
      if (/[A-Za-z_]/.test(text[j] ?? '')) throw new MaaPolicyError('POLICY_SYNTAX', `malformed number "${num}${text[j]}"`, startLine, startCol);
      tokens.push({ kind: 'number', text: num, value: num, line: startLine, column: startCol });
      advance(j - i);
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        const c = text[j];
        if (c === undefined || c === '\n') throw new MaaPolicyError('POLICY_SYNTAX', 'unterminated string', startLine, startCol);
        if (c === '"') break;
        if (c === '\\') {
          const e = text[j + 1];
          if (e === '"' || e === '\\') {
            value += e;
            j += 2;
            continue;
          }
          throw new MaaPolicyError('POLICY_SYNTAX', `unknown escape \\${e ?? ''} in a string`, startLine, startCol + (j - i));
        }
        value += c;
        j++;
      }
      tokens.push({ kind: 'string', text: text.slice(i, j + 1), value, line: startLine, column: startCol });
      advance(j + 1 - i);
      continue;
    }
    const two = text.slice(i, i + 2);
    if (PUNCT2.includes(two)) {
      tokens.push({ kind: 'punct', text: two, value: two, line: startLine, column: startCol });
      advance(2);
      continue;
    }
    if (PUNCT1.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, value: ch, line: startLine, column: startCol });
      advance(1);
      continue;
    }
    const shown = /[\x21-\x7e]/.test(ch) ? `"${ch}"` : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new MaaPolicyError('POLICY_SYNTAX', `unexpected character ${shown}`, startLine, startCol);
  }
  tokens.push({ kind: 'eof', text: '', value: '', line, column: col });
  return tokens;
}
