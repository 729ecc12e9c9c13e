import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatBytes, isIntegral, parseGoDuration, parseQuantity, quantityEquals, WebhookError } from '../src/index.js';

const q = (v: unknown): string => {
  const r = parseQuantity(v);
  return r.den === 1n ? r.num.toString() : `${r.num}/${r.den}`;
};

describe('Kubernetes quantities (apimachinery grammar)', () => {
  it('binary, decimal and exponent suffixes', () => {
    assert.equal(q('10Mi'), String(10 * 2 ** 20));
    assert.equal(q('512Ki'), '524288');
    assert.equal(q('1Gi'), String(2 ** 30));
    assert.equal(q('1k'), '1000');
    assert.equal(q('5M'), '5000000');
    assert.equal(q('1e3'), '1000');
    assert.equal(q('1E6'), '1000000');
    assert.equal(q('100m'), '1/10');
    assert.equal(q('1.5'), '3/2');
    assert.equal(q('.5Ki'), '512');
    assert.equal(q('2.'), '2');
    assert.equal(q('+7'), '7');
    assert.equal(q(10), '10');
    assert.equal(isIntegral(parseQuantity('0.5Ki')), true);
    assert.equal(isIntegral(parseQuantity('0.5')), false);
    assert.equal(quantityEquals(parseQuantity('1Mi'), parseQuantity('1048576')), true);
    assert.equal(quantityEquals(parseQuantity('1M'), parseQuantity('1Mi')), false);
  });

  it('refuses what the API server refuses, with code INVALID_QUANTITY', () => {
    for (const bad of ['', 'Mi', '1MiB', '1 Mi', '1e', 'ten', '1.2.3', '1e999', 'x'.repeat(65), NaN, {}, null, true]) {
      assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof WebhookError && e.code === 'INVALID_QUANTITY', String(bad));
    }
  });

  it('formats bytes in BinarySI when exact', () => {
    assert.equal(formatBytes(10n << 20n), '10Mi');
    assert.equal(formatBytes(1n << 30n), '1Gi');
    assert.equal(formatBytes(1536n), '1536');
    assert.equal(formatBytes(3n << 10n), '3Ki');
    assert.equal(formatBytes(0n), '0');
    assert.equal(formatBytes(1000n), '1000');
  });
});

describe('Go durations (the ?timeout= parameter)', () => {
  it('parses what time.Duration.String prints', () => {
    assert.equal(parseGoDuration('10s'), 10_000);
    assert.equal(parseGoDuration('1m0s'), 60_000);
    assert.equal(parseGoDuration('2.5s'), 2_500);
    assert.equal(parseGoDuration('500ms'), 500);
    assert.equal(parseGoDuration('1h2m3s'), 3_723_000);
    assert.equal(parseGoDuration('0'), 0);
  });
  it('anything else is undefined (callers use their default)', () => {
    for (const bad of [undefined, '', '10', 's', '10x', '-1s', '1s '.repeat(20)]) assert.equal(parseGoDuration(bad), undefined, String(bad));
  });
});
