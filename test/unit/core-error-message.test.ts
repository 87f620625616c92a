import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../src/core/errors.js';

describe('errorMessage never throws, whatever was thrown', () => {
  it('reads plain errors and values', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('text')).toBe('text');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(Symbol('s'))).toBe('Symbol(s)');
  });
  it('survives an error whose message getter throws', () => {
    const err = new Error('x');
    Object.defineProperty(err, 'message', {
      get() {
        throw new Error('getter exploded');
      },
    });
    expect(errorMessage(err)).toBe('an error whose message could not be read (Error: getter exploded)');
  });
  it('survives values that cannot be turned into text', () => {
    expect(errorMessage(Object.create(null))).toBe('[object Object]');
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(errorMessage(hostile)).toBe('[object Object]');
  });
  it('describes a non-string message', () => {
    const err = new Error('x');
    Object.defineProperty(err, 'message', { value: { code: 7 } });
    expect(errorMessage(err)).toBe('[object Object]');
  });
});
