/**
 * Hand-written ONNX models for tests: a few ModelProto messages encoded with the protobuf wire
 * format directly (onnx.proto field numbers), so the ONNX scorer can be tested without any
 * downloaded model or the onnx Python package.
 */
type Field = [number, 'varint', number] | [number, 'bytes', Uint8Array] | [number, 'string', string];

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

function message(fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [num, kind, value] of fields) {
    if (kind === 'varint') out.push(...varint(num << 3), ...varint(value));
    else {
      const bytes = kind === 'string' ? new TextEncoder().encode(value) : value;
      out.push(...varint((num << 3) | 2), ...varint(bytes.length), ...bytes);
    }
  }
  return Uint8Array.from(out);
}

/** ValueInfoProto of a float tensor; dims are numbers (fixed) or strings (symbolic). */
function floatTensor(name: string, dims: (number | string)[]): Uint8Array {
  const shape = message(dims.map((d): Field => [1, 'bytes', message([typeof d === 'number' ? [1, 'varint', d] : [2, 'string', d]])]));
  const tensorType = message([
    [1, 'varint', 1], // elem_type FLOAT
    [2, 'bytes', shape],
  ]);
  return message([
    [1, 'string', name],
    [2, 'bytes', message([[1, 'bytes', tensorType]])],
  ]);
}

/**
 * A model with one ReduceMean node over `x` [1, 3, h, w]: over all axes (→ a scalar: the mean of
 * the input) when `axes` is omitted, else over `axes` with keepdims 0.
 */
export function reduceMeanModel(axes?: number[]): Uint8Array {
  const attrs: Field[] = [
    [
      5,
      'bytes',
      message([
        [1, 'string', 'keepdims'],
        [20, 'varint', 2], // INT
        [3, 'varint', 0],
      ]),
    ],
  ];
  if (axes)
    attrs.push([
      5,
      'bytes',
      message([[1, 'string', 'axes'], [20, 'varint', 7] as Field, ...axes.map((a): Field => [8, 'varint', a])]), // INTS
    ]);
  const node = message([[1, 'string', 'x'], [2, 'string', 'y'], [3, 'string', 'mean'], [4, 'string', 'ReduceMean'], ...attrs]);
  const graph = message([
    [1, 'bytes', node],
    [2, 'string', 'g'],
    [11, 'bytes', floatTensor('x', [1, 3, 'h', 'w'])],
    [12, 'bytes', floatTensor('y', axes ? [1, 3] : [])],
  ]);
  return message([
    [1, 'varint', 8], // ir_version
    [2, 'string', 'worldcast-test'],
    [7, 'bytes', graph],
    [
      8,
      'bytes',
      message([
        [1, 'string', ''],
        [2, 'varint', 13],
      ]),
    ],
  ]);
}
