"""The engine's allocator settings: what keeps a consumer's peak RSS flat and under its bound.

Two allocators hold the engine's memory: Arrow's pool (parsed and cleaned batches) and
glibc's malloc (numpy's temporaries: the row digest's word matrix, the table of digests).
Both keep freed memory for reuse, which is fast but shows up as RSS: measured on the bench's
wide input, live memory peaked at about 150 MB while RSS reached 340 MB.

- Arrow: jemalloc instead of mimalloc (the wheels' default), which kept 50-90 MB more; and,
  if configured, jemalloc's dirty/muzzy page decay shortened so freed pages go back to the
  system within JEMALLOC_DECAY_MS.
- glibc, if configured: a fixed mmap threshold. By default glibc raises the threshold to the size of every
  mmapped block freed (up to 32 MiB), after which numpy's multi-MiB temporaries come from the
  worker threads' arenas and stay there; with the threshold fixed they are mapped and
  unmapped, which costs a page fault per 4 KiB on first touch and returns the memory at once.

Both knobs trade CPU for memory: on the bench's 100 MB inputs, decay 0 and a 1 MiB threshold
took peak RSS down by 50-80 MB and cost 15-30% more CPU (page faults, madvise), so by default
neither is applied (the engine's speed is goal 1 of issue 15); a memory-bound deployment sets
DATALAKE_JEMALLOC_DECAY_MS=0 and DATALAKE_MMAP_THRESHOLD=1048576. ARROW_DEFAULT_MEMORY_POOL,
if set, chooses Arrow's pool as usual.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

import pyarrow as pa

JEMALLOC_DECAY_MS: int | None = None  # DATALAKE_JEMALLOC_DECAY_MS (None leaves Arrow's setting)
MMAP_THRESHOLD = 0  # DATALAKE_MMAP_THRESHOLD (bytes; 0 leaves glibc's dynamic threshold)
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def use_engine_memory_settings() -> str:
    """Apply the settings above (idempotent); returns the Arrow pool's backend name."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        with contextlib.suppress(NotImplementedError, AttributeError):  # a build without jemalloc
            pa.set_memory_pool(pa.jemalloc_memory_pool())
    if pa.default_memory_pool().backend_name == "jemalloc":
        configured = os.environ.get("DATALAKE_JEMALLOC_DECAY_MS")
        decay = int(configured) if configured else JEMALLOC_DECAY_MS
        if decay is not None:
            with contextlib.suppress(NotImplementedError, AttributeError, pa.ArrowException):
                pa.jemalloc_set_decay_ms(decay)
    _set_mmap_threshold(int(os.environ.get("DATALAKE_MMAP_THRESHOLD", MMAP_THRESHOLD)))
    return pa.default_memory_pool().backend_name


def _set_mmap_threshold(size: int) -> bool:
    """glibc's M_MMAP_THRESHOLD; False (and nothing changed) on another libc or with 0."""
    if size <= 0:
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size))
