"""Read what the loader must check in an ONNX file without the ``onnx`` package (not a runtime
dependency): graph input/output names and shapes, and whether any tensor points at external data.

A minimal protobuf walk over the fields of onnx.proto3 that can hold tensors or graphs; everything
else (weights' raw bytes included) is skipped by length, so this costs well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

# Field numbers from onnx.proto3.
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_SPARSE_INIT = 1, 5, 11, 12, 15
_FUNCTION_NODE = 7
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_SPARSE_VALUES, _SPARSE_INDICES = 1, 2
_TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION, _EXTERNAL = 13, 14, 1
_VALUE_NAME, _VALUE_TYPE, _TYPE_TENSOR, _TENSOR_ELEM, _TENSOR_SHAPE, _SHAPE_DIM = 1, 2, 1, 1, 2, 1
_DIM_VALUE, _DIM_PARAM = 1, 2


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass
class GraphInterface:
    inputs: list[tuple[str, int, list[int | str]]] = field(default_factory=list)  # (name, elem type, dims)
    outputs: list[tuple[str, int, list[int | str]]] = field(default_factory=list)
    external_tensors: int = 0  # tensors whose data lives outside the file


def inspect_onnx(data: bytes) -> GraphInterface:
    """Graph interface and external-data count of a serialized ``ModelProto``.

    Raises:
        ProtobufError: ``data`` is truncated or not a protobuf message.
    """
    view = memoryview(data)
    found = GraphInterface()
    for number, value in _fields(view):
        if number == _MODEL_GRAPH:
            _graph(value, found, top=True)
        elif number == _MODEL_FUNCTIONS:
            for n, v in _fields(value):
                if n == _FUNCTION_NODE:
                    _node(v, found)
    return found


def _graph(view: memoryview, found: GraphInterface, top: bool) -> None:
    for number, value in _fields(view):
        if number == _GRAPH_NODE:
            _node(value, found)
        elif number == _GRAPH_INIT:
            _tensor(value, found)
        elif number == _GRAPH_SPARSE_INIT:
            _sparse(value, found)
        elif top and number in (_GRAPH_INPUT, _GRAPH_OUTPUT):
            (found.inputs if number == _GRAPH_INPUT else found.outputs).append(_value_info(value))


def _node(view: memoryview, found: GraphInterface) -> None:
    for number, value in _fields(view):
        if number != _NODE_ATTRIBUTE:
            continue
        for n, v in _fields(value):
            if n in (_ATTR_T, _ATTR_TENSORS):
                _tensor(v, found)
            elif n in (_ATTR_G, _ATTR_GRAPHS):
                _graph(v, found, top=False)
            elif n in (_ATTR_SPARSE, _ATTR_SPARSES):
                _sparse(v, found)


def _sparse(view: memoryview, found: GraphInterface) -> None:
    for number, value in _fields(view):
        if number in (_SPARSE_VALUES, _SPARSE_INDICES):
            _tensor(value, found)


def _tensor(view: memoryview, found: GraphInterface) -> None:
    for number, value in _fields(view):
        if number == _TENSOR_EXTERNAL_DATA or (number == _TENSOR_DATA_LOCATION and value == _EXTERNAL):
            found.external_tensors += 1
            return


def _value_info(view: memoryview) -> tuple[str, int, list[int | str]]:
    name, elem, dims = "", 0, []
    for number, value in _fields(view):
        if number == _VALUE_NAME:
            name = bytes(value).decode("utf-8", "replace")
        elif number == _VALUE_TYPE:
            for n, tensor in _fields(value):
                if n != _TYPE_TENSOR:
                    continue
                for m, v in _fields(tensor):
                    if m == _TENSOR_ELEM:
                        elem = v
                    elif m == _TENSOR_SHAPE:
                        dims = [_dim(d) for k, d in _fields(v) if k == _SHAPE_DIM]
    return name, elem, dims


def _dim(view: memoryview) -> int | str:
    for number, value in _fields(view):
        if number == _DIM_VALUE:
            return value
        if number == _DIM_PARAM:
            return bytes(value).decode("utf-8", "replace")
    return "?"


def _fields(view: memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) pairs: ints for varint/fixed fields, memoryviews for length-delimited."""
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(view, pos)
        elif wire == 2:
            size, pos = _varint(view, pos)
            if pos + size > end:
                raise ProtobufError("truncated length-delimited field")
            value, pos = view[pos : pos + size], pos + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise ProtobufError("truncated fixed-width field")
            value, pos = int.from_bytes(view[pos : pos + width], "little"), pos + width
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if number == 0:
            raise ProtobufError("field number 0")
        yield number, value


def _varint(view: memoryview, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(view) or shift > 63:
            raise ProtobufError("truncated or oversized varint")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
