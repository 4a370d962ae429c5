"""torch, imported when first used: the window opens and shows its first frame before
torch is loaded (about 1.5 s of a 2-core machine's start), so the modules it imports
name torch only inside their functions."""
from __future__ import annotations

import functools


def inference_mode(fn):
    """``@torch.inference_mode()`` that imports torch at the first call, not at import."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import torch

        with torch.inference_mode():
            return fn(*args, **kwargs)
    return wrapper
