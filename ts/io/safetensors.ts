/**
 * safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON header
 * { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { key: string } }, then the raw
 * little-endian tensor bytes. Used for the golden test cases and for checkpoints.
 */
import { tensor, sizeOf, type Tensor } from '../tensor.js';

const BYTES_PER_ELEMENT: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  /** The raw bytes of the tensor (a view into the file). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  entries: Map<string, SafetensorsEntry>;
  /** The tensor `name` as float32 (F64, F32, F16 and BF16 convert); throws when absent. */
  tensor(name: string): Tensor;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function toFloat32(entry: SafetensorsEntry, name: string): Float32Array {
  const { bytes, dtype } = entry;
  const n = sizeOf(entry.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    default:
      throw new TypeError(`safetensors: tensor '${name}' has dtype ${dtype}, which does not convert to float32`);
  }
  return out;
}

export function readSafetensors(file: Uint8Array): SafetensorsFile {
  if (file.byteLength < 8) throw new RangeError('safetensors: file shorter than its 8-byte header length');
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) throw new RangeError('safetensors: header length past the end of the file');
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const dataStart = 8 + headerLength;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = value as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = BYTES_PER_ELEMENT[dtype];
    if (size === undefined) throw new TypeError(`safetensors: tensor '${name}' has unknown dtype ${dtype}`);
    const [begin, end] = offsets;
    if (!(begin >= 0 && end >= begin && dataStart + end <= file.byteLength) || end - begin !== sizeOf(shape) * size) {
      throw new RangeError(`safetensors: tensor '${name}' has bad data_offsets [${begin}, ${end}]`);
    }
    entries.set(name, { dtype, shape, bytes: file.subarray(dataStart + begin, dataStart + end) });
  }
  return {
    metadata,
    entries,
    tensor(name: string): Tensor {
      const entry = entries.get(name);
      if (!entry) throw new RangeError(`safetensors: no tensor named '${name}'`);
      return tensor(toFloat32(entry, name), entry.shape);
    },
  };
}

/** Writes float32 tensors (and string metadata) as a safetensors file. */
export function writeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // data starts 8-byte aligned
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(at + i * 4, t.data[i]!, true);
    at += t.data.length * 4;
  }
  return out;
}
