"""Reading a ``.safetensors`` file without trusting it: refuse from the header, then parse.

A ``.safetensors`` file is an 8-byte little-endian header length ``N``, ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`` and
the tensors' raw bytes (offsets relative to the end of the header).  No code, no pickle.
`read_safetensors`:

1. opens the path only if it is a regular file (`emt.core.safe_io.open_regular`) and refuses
   a file above ``MAX_NPZ_BYTES`` (the weights are stored uncompressed, so the file is the
   size of its arrays) before reading a byte;
2. reads the 8-byte length and refuses a header longer than the file holds or than
   ``MAX_TEXT_FILE_BYTES``; parses the header with `emt.core.safe_io.parse_json` (nesting
   limit);
3. checks every entry from the header alone: at most ``MAX_NPZ_MEMBERS`` tensors, a floating
   dtype (``F16``, ``F32``, ``F64``: weights are real numbers; ``BF16`` and the ``F8`` kinds
   have no numpy dtype, integers and booleans are not weights), a shape of non-negative
   integers of at most ``MAX_ARRAY_ELEMENTS`` elements, offsets inside the data that span
   exactly ``shape x itemsize`` bytes, and ``MAX_NPZ_BYTES`` in all;
4. only then parses the bytes it has already read with ``safetensors.numpy.load`` (which checks
   the layout once more: contiguous, non-overlapping offsets).

Two ``__metadata__`` strings carry the string entries an ``.npz`` of ours may hold:
``activation`` ("tanh"/"linear" for an Elman RNN) and ``cell`` ("lstm", "gru", "lru"); they
come back as 0-d string arrays under those names, so the naming conventions of
`emt.verify.subject` read a ``.safetensors`` file exactly as the ``.npz`` with the same arrays.
Every problem is a ``ValueError`` that starts with the path.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load

from emt.core.limits import check_at_most
from emt.core.safe_io import open_regular, parse_json

__all__ = ["read_safetensors", "FLOAT_DTYPES", "METADATA_ENTRIES"]

# safetensors dtype -> numpy dtype, for the dtypes weights may have
FLOAT_DTYPES: dict[str, np.dtype] = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"),
                                     "F64": np.dtype("<f8")}
# __metadata__ keys returned as string entries (module docstring)
METADATA_ENTRIES = ("activation", "cell")
_HEADER_LENGTH_BYTES = 8


def _check_entry(path: Path, name: str, entry: Any, data_bytes: int) -> int:
    """The byte count of one header entry after checking it (module docstring, step 3)."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: header entry {name!r} is not an object")
    dtype = entry.get("dtype")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"{path}: tensor {name!r} has dtype {dtype!r}; weights are read as "
                         f"{', '.join(FLOAT_DTYPES)} (bfloat16 and float8 have no numpy type; "
                         "integers and booleans are not weights)")
    shape = entry.get("shape")
    if (not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool)
                                               and n >= 0 for n in shape)):
        raise ValueError(f"{path}: tensor {name!r} has shape {shape!r}; expected a list of "
                         "non-negative integers")
    elements = math.prod(shape)
    check_at_most(f"{path}: tensor {name!r} has shape {tuple(shape)}: elements", elements,
                  "MAX_ARRAY_ELEMENTS")
    offsets = entry.get("data_offsets")
    nbytes = elements * FLOAT_DTYPES[dtype].itemsize
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_bytes
            or offsets[1] - offsets[0] != nbytes):
        raise ValueError(f"{path}: tensor {name!r} has data_offsets {offsets!r}; expected "
                         f"{nbytes} bytes ({dtype} x {tuple(shape)}) within the "
                         f"{data_bytes} data bytes the file holds (truncated or corrupt)")
    return nbytes


def _header(path: Path, fh: Any, size: int) -> tuple[dict[str, Any], int]:
    """``(header, header length)`` read from the open file (module docstring, step 2)."""
    head = fh.read(_HEADER_LENGTH_BYTES)
    if len(head) < _HEADER_LENGTH_BYTES:
        raise ValueError(f"{path}: {size} bytes, too short for a .safetensors file (an 8-byte "
                         "header length comes first)")
    (n,) = struct.unpack("<Q", head)
    if n > size - _HEADER_LENGTH_BYTES:
        raise ValueError(f"{path}: the header length says {n} bytes but the file holds "
                         f"{size - _HEADER_LENGTH_BYTES} after it (truncated, or not a "
                         ".safetensors file)")
    check_at_most(f"{path}: header bytes", n, "MAX_TEXT_FILE_BYTES")
    raw = fh.read(n)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: the header is not UTF-8 JSON (not a .safetensors "
                         "file)") from None
    header = parse_json(text, f"{path}: header")
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the header is JSON but not an object")
    return header, n


def read_safetensors(path: str | os.PathLike,
                     what: str = "weights file") -> dict[str, np.ndarray]:
    """All tensors of the ``.safetensors`` file at ``path`` by name (plus the string entries
    of `METADATA_ENTRIES`), after the checks of the module docstring; ``ValueError``
    starting with the path for anything else."""
    path = Path(path)
    with open_regular(path, what) as fh:
        size = os.fstat(fh.fileno()).st_size
        check_at_most(f"{path}: file bytes", size, "MAX_NPZ_BYTES")
        header, n = _header(path, fh, size)
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict):
            raise ValueError(f"{path}: __metadata__ is not an object of strings")
        check_at_most(f"{path}: tensors", len(header), "MAX_NPZ_MEMBERS")
        data_bytes = size - _HEADER_LENGTH_BYTES - n
        total = sum(_check_entry(path, name, entry, data_bytes)
                    for name, entry in header.items())
        check_at_most(f"{path}: tensor bytes", total, "MAX_NPZ_BYTES")
        fh.seek(0)
        data = fh.read(size + 1)
    if len(data) != size:
        raise ValueError(f"{path}: changed size while being read")
    try:
        arrays = dict(load(data))
    except (SafetensorError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable .safetensors file ({exc})") from None
    for key in METADATA_ENTRIES:
        value = metadata.get(key)
        if value is not None:
            if not isinstance(value, str) or key in arrays:
                raise ValueError(f"{path}: __metadata__ {key!r} must be a string naming no "
                                 "tensor")
            arrays[key] = np.array(value)
    return arrays
