/**
 * What the loader checks in an ONNX file before any session exists, without an ONNX library: the graph's
 * inputs and outputs (name, element type, dims) and whether any tensor points at external data. A port of
 * Python's rnnqa/runtime/onnx_inspect.py: a protobuf walk over the fields of onnx.proto3 that can hold
 * tensors or graphs; everything else (the weights' bytes included) is skipped by length.
 */

export class ProtobufError extends Error {}

// Field numbers from onnx.proto3.
const MODEL = { graph: 7, functions: 25 };
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, sparseInitializer: 15 };
const FUNCTION_NODE = 7;
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE = { t: 5, g: 6, tensors: 10, graphs: 11, sparse: 22, sparses: 23 };
const SPARSE = { values: 1, indices: 2 };
const TENSOR = { externalData: 13, dataLocation: 14, external: 1 };
const VALUE = { name: 1, type: 2 };
const TYPE_TENSOR = 1;
const TENSOR_TYPE = { elem: 1, shape: 2 };
const SHAPE_DIM = 1;
const DIM = { value: 1, param: 2 };
const utf8 = new TextDecoder();

/**
 * @param {Uint8Array} bytes a serialized ModelProto
 * @returns {{inputs: Array<[string, number, Array<number|string>]>, outputs: Array<[string, number, Array<number|string>]>,
 *            externalTensors: number}}
 * @throws {ProtobufError} truncated or not a protobuf message
 */
export function inspectOnnx(bytes) {
  const found = { inputs: [], outputs: [], externalTensors: 0 };
  for (const [number, value] of fields(bytes)) {
    if (number === MODEL.graph) graph(value, found, true);
    else if (number === MODEL.functions) {
      for (const [n, v] of fields(value)) if (n === FUNCTION_NODE) node(v, found);
    }
  }
  return found;
}

function graph(bytes, found, top) {
  for (const [number, value] of fields(bytes)) {
    if (number === GRAPH.node) node(value, found);
    else if (number === GRAPH.initializer) tensor(value, found);
    else if (number === GRAPH.sparseInitializer) sparse(value, found);
    else if (top && (number === GRAPH.input || number === GRAPH.output)) {
      (number === GRAPH.input ? found.inputs : found.outputs).push(valueInfo(value));
    }
  }
}

function node(bytes, found) {
  for (const [number, value] of fields(bytes)) {
    if (number !== NODE_ATTRIBUTE) continue;
    for (const [n, v] of fields(value)) {
      if (n === ATTRIBUTE.t || n === ATTRIBUTE.tensors) tensor(v, found);
      else if (n === ATTRIBUTE.g || n === ATTRIBUTE.graphs) graph(v, found, false);
      else if (n === ATTRIBUTE.sparse || n === ATTRIBUTE.sparses) sparse(v, found);
    }
  }
}

function sparse(bytes, found) {
  for (const [number, value] of fields(bytes)) if (number === SPARSE.values || number === SPARSE.indices) tensor(value, found);
}

function tensor(bytes, found) {
  for (const [number, value] of fields(bytes)) {
    if (number === TENSOR.externalData || (number === TENSOR.dataLocation && value === TENSOR.external)) {
      found.externalTensors += 1;
      return;
    }
  }
}

function valueInfo(bytes) {
  let name = '';
  let elem = 0;
  let dims = [];
  for (const [number, value] of fields(bytes)) {
    if (number === VALUE.name) name = utf8.decode(value);
    else if (number === VALUE.type) {
      for (const [n, tensorType] of fields(value)) {
        if (n !== TYPE_TENSOR) continue;
        for (const [m, v] of fields(tensorType)) {
          if (m === TENSOR_TYPE.elem) elem = v;
          else if (m === TENSOR_TYPE.shape) dims = [...fields(v)].filter(([k]) => k === SHAPE_DIM).map(([, d]) => dim(d));
        }
      }
    }
  }
  return [name, elem, dims];
}

function dim(bytes) {
  for (const [number, value] of fields(bytes)) {
    if (number === DIM.value) return value;
    if (number === DIM.param) return utf8.decode(value);
  }
  return '?';
}

/** [field number, value] pairs: numbers for varint/fixed fields, byte views for length-delimited ones. */
function* fields(bytes) {
  let pos = 0;
  const end = bytes.length;
  while (pos < end) {
    let key;
    [key, pos] = varint(bytes, pos);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    let value;
    if (wire === 0) {
      [value, pos] = varint(bytes, pos);
    } else if (wire === 2) {
      let size;
      [size, pos] = varint(bytes, pos);
      if (pos + size > end) throw new ProtobufError('truncated length-delimited field');
      value = bytes.subarray(pos, pos + size);
      pos += size;
    } else if (wire === 1 || wire === 5) {
      const width = wire === 1 ? 8 : 4;
      if (pos + width > end) throw new ProtobufError('truncated fixed-width field');
      value = 0;
      for (let i = width - 1; i >= 0; i -= 1) value = value * 256 + bytes[pos + i];
      pos += width;
    } else {
      throw new ProtobufError(`unsupported wire type ${wire}`);
    }
    if (number === 0) throw new ProtobufError('field number 0');
    yield [number, value];
  }
}

function varint(bytes, start) {
  let result = 0;
  let shift = 0;
  let pos = start;
  for (;;) {
    if (pos >= bytes.length || shift > 63) throw new ProtobufError('truncated or oversized varint');
    const byte = bytes[pos];
    pos += 1;
    result += (byte & 0x7f) * 2 ** shift; // exact up to 2^53: field numbers, sizes, enums and dims all are
    if (!(byte & 0x80)) return [result, pos];
    shift += 7;
  }
}
