"""What an ``.npz`` member declares, read from its ``.npy`` header without a byte of its
data: a damaged or crafted file can declare any shape (and a compressed member can unpack
to it), so loaders check the declaration before numpy allocates."""
from __future__ import annotations

import numpy as np


def declared(npz, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype that member ``name`` of an open ``np.load`` npz declares.  KeyError
    when it is missing; ValueError when its header is not .npy format 1.0 or 2.0 (what
    numpy writes) or cannot be read."""
    fmt = np.lib.format
    if name + ".npy" not in npz.zip.namelist():
        raise KeyError(name)
    with npz.zip.open(name + ".npy") as member:
        version = fmt.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"'{name}' is stored in .npy format {version[0]}.{version[1]}, not 1.0 or 2.0")
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(member)  # at most 10,000 bytes of header; no pickle
    return tuple(shape), dtype
