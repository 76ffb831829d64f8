"""Reading an ``.npz`` without trusting it: refuse before anything is decompressed or allocated.

An ``.npz`` is a zip archive of ``.npy`` members.  `read_npz`:

1. opens the path only if it is a regular file (`emt.core.safe_io.open_regular`: a FIFO
   would block forever);
2. reads the first bytes and names what the file is when it is not a zip archive (a single
   ``.npy``, a pickle, text, ...) instead of numpy's "contains pickled data" for any non-zip;
3. reads the zip directory and every member's ``.npy`` header (magic, dtype, shape: a few
   hundred bytes each) and refuses, before decompressing, object dtypes (they would need
   unpickling), non-numeric kinds other than text (``timedelta64``, ``datetime64``, structured
   records), an array of more than ``MAX_ARRAY_ELEMENTS`` elements, more than
   ``MAX_NPZ_MEMBERS`` arrays and more than ``MAX_NPZ_BYTES`` in all (the header's
   ``shape x itemsize`` is exactly what numpy would allocate, whatever the zip directory says);
4. only then reads each array with ``allow_pickle=False``.

Every problem is a ``ValueError`` that starts with the path.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from emt.core.limits import limit, raise_hint
from emt.core.safe_io import open_regular

__all__ = ["read_npz", "NPZ_KINDS"]

# numpy dtype kinds an array may have: booleans, integers, floats, complex (refused later by
# the weights checks with a precise message), and text (our files store "activation" and a
# JSON "meta" string).  Not: "O" objects (pickles), "m"/"M" time, "V" records, "S" bytes.
NPZ_KINDS = frozenset("biufcU")
_KIND_NAMES = {"O": "Python objects (pickled data)", "m": "timedelta64", "M": "datetime64",
               "V": "structured records", "S": "raw bytes"}


def _what_it_is(head: bytes) -> str:
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz of named matrices"
    if head[:1] == b"\x80" or head.startswith((b"(dp", b"(lp", b"ccopy_reg")):
        return "a Python pickle, not an .npz (refusing to unpickle)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file, not an .npz"
    if not head:
        return "empty, not an .npz"
    return "not an .npz file (no zip signature)"


def _check_header(path: Path, name: str, fh, total: list[int]) -> None:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version in ((2, 0), (3, 0)):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:  # pragma: no cover - read_magic accepts only the versions above
        raise ValueError(f"unknown .npy format version {version}")
    if dtype.hasobject or dtype.kind not in NPZ_KINDS:
        kind = _KIND_NAMES.get("O" if dtype.hasobject else dtype.kind, str(dtype))
        extra = ("; refusing to unpickle -- save plain numeric arrays" if dtype.hasobject
                 else "; expected numbers")
        raise ValueError(f"{path}: array {name!r} holds {kind} (dtype {dtype}){extra}")
    elements = math.prod(shape)
    cap = limit("MAX_ARRAY_ELEMENTS")
    if elements > cap:
        raise ValueError(f"{path}: array {name!r} has shape {tuple(shape)} ({elements} "
                         f"elements), above the limit {cap} (MAX_ARRAY_ELEMENTS; "
                         f"{raise_hint('MAX_ARRAY_ELEMENTS')})")
    total[0] += elements * dtype.itemsize
    cap = limit("MAX_NPZ_BYTES")
    if total[0] > cap:
        raise ValueError(f"{path}: its arrays would take more than {cap} bytes in memory "
                         f"(MAX_NPZ_BYTES; {raise_hint('MAX_NPZ_BYTES')})")


def read_npz(path: str | os.PathLike, what: str = "weights file") -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` at ``path``, by name, after the checks of the module
    docstring; ``ValueError`` starting with the path for anything else."""
    path = Path(path)
    with open_regular(path, what) as fh:
        head = fh.read(8)
        if not head.startswith(b"PK"):
            raise ValueError(f"{path}: {_what_it_is(head)}")
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                cap = limit("MAX_NPZ_MEMBERS")
                if len(members) > cap:
                    raise ValueError(f"{path}: {len(members)} arrays, above the limit {cap} "
                                     f"(MAX_NPZ_MEMBERS; {raise_hint('MAX_NPZ_MEMBERS')})")
                total = [0]
                for info in members:
                    name = info.filename.removesuffix(".npy")
                    with zf.open(info) as member:
                        _check_header(path, name, member, total)
                arrays = {}
                for info in members:
                    with zf.open(info) as member:
                        arrays[info.filename.removesuffix(".npy")] = np.lib.format.read_array(
                            member, allow_pickle=False)
                return arrays
        except ValueError as exc:
            if str(exc).startswith(str(path)):
                raise
            raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError,
                NotImplementedError) as exc:
            raise ValueError(f"{path}: not a readable .npz file, truncated or corrupt "
                             f"({type(exc).__name__}: {exc})") from None
