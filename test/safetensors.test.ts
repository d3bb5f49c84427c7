import { expect, test } from 'vitest';
import { readSafetensors, tensor, writeSafetensors } from '../ts/index.node.js';

test('write then read gives back the tensors and metadata', () => {
  const a = tensor([1, -2.5, 3e-8, Infinity, NaN, 0], [2, 3]);
  const b = tensor([42], [1]);
  const file = readSafetensors(writeSafetensors({ a, b }, { op: 'test', note: 'ünïcode' }));
  expect(file.metadata).toEqual({ op: 'test', note: 'ünïcode' });
  expect(file.tensor('a').shape).toEqual([2, 3]);
  expect(Array.from(file.tensor('a').data)).toEqual(Array.from(a.data));
  expect(Array.from(file.tensor('b').data)).toEqual([42]);
});

test('F64, F16 and BF16 tensors convert to float32', () => {
  const header = JSON.stringify({
    d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
    h: { dtype: 'F16', shape: [2], data_offsets: [16, 20] },
    b: { dtype: 'BF16', shape: [1], data_offsets: [20, 22] },
  });
  const bytes = new Uint8Array(8 + header.length + 22);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(header.length), true);
  bytes.set(new TextEncoder().encode(header), 8);
  const at = 8 + header.length;
  view.setFloat64(at, 0.1, true);
  view.setFloat64(at + 8, -3, true);
  view.setUint16(at + 16, 0x3c00, true); // 1.0
  view.setUint16(at + 18, 0xc000, true); // -2.0
  view.setUint16(at + 20, 0x4049, true); // 3.140625 in bfloat16
  const file = readSafetensors(bytes);
  expect(file.tensor('d').data[0]).toBeCloseTo(0.1, 7);
  expect(Array.from(file.tensor('h').data)).toEqual([1, -2]);
  expect(file.tensor('b').data[0]).toBe(3.140625);
});

test('malformed files are rejected with a clear error', () => {
  expect(() => readSafetensors(new Uint8Array(4))).toThrow(RangeError);
  const bad = writeSafetensors({ a: tensor([1, 2], [2]) });
  new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
  expect(() => readSafetensors(bad)).toThrow(/header length past the end/);
  expect(() => readSafetensors(writeSafetensors({ a: tensor([1], [1]) })).tensor('b')).toThrow(/no tensor named 'b'/);
});
