"""The decode step in one native call (``native/decode.c``): every decoded row of a step through the whole
decoder, on the quantized weights with int8 activations (AVX2 integer dot products, as llama.cpp does),
in one OpenMP region instead of some thirty torch ops per layer.

The C source is compiled once per machine into the model cache (keyed by the source, the compiler and the
CPU's flags, with ``-march=native``) and loaded with ctypes, which releases the GIL for the call. Where no C
compiler is found, or the build fails, ``NativeDecoder.build`` answers None and the torch path decodes.
"""

from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
import torch

from adapters.llm.quantized import GROUP_SIZE, Int4Weight, SwitchingLinear

log = structlog.get_logger(__name__)

SOURCE = Path(__file__).with_name("native") / "decode.c"
_KIND_Q4, _KIND_Q8, _KIND_Q4X8, _KIND_Q8X8 = 0, 1, 2, 3
_FLAGS = ("-O3", "-march=native", "-fopenmp", "-fPIC", "-shared", "-fno-math-errno")
_QKV, _O, _GATE_UP, _DOWN = range(4)
HEAD = -1


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def build_library(cache_dir: Path, extra_flags: Sequence[str] = ()) -> Path | None:
    """The compiled library for this machine, built into ``cache_dir`` on first use; None without a compiler.
    ``extra_flags`` follow the usual ones (tests build the kernels without VNNI, or without AVX2, with them)."""
    flags = (*_FLAGS, *extra_flags)
    compiler = _compiler()
    if compiler is None or platform.machine() not in ("x86_64", "AMD64", "aarch64", "arm64"):
        return None
    try:
        version = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    key = hashlib.blake2b(digest_size=12)
    for part in (SOURCE.read_bytes(), version.encode(), _cpu_flags().encode(), " ".join(flags).encode()):
        key.update(part)
    target = cache_dir / "native" / f"decode-{key.hexdigest()}.so"
    if target.exists():
        return target
    scratch = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [compiler, *flags, "-o", str(scratch), str(SOURCE), "-lm"], capture_output=True, text=True, timeout=300
        )
        if result.returncode != 0:
            log.warning("llm.native.build_failed", error=result.stderr[-2000:])
            scratch.unlink(missing_ok=True)
            return None
        scratch.replace(target)  # atomic: processes building at once each write their own scratch file
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("llm.native.build_failed", error=str(error))
        return None
    log.info("llm.native.built", path=str(target))
    return target


def load_library(path: Path) -> ctypes.CDLL:
    import torch  # noqa: F401  (torch's libgomp first, so the library shares its OpenMP runtime)

    lib = ctypes.CDLL(str(path))
    p, i, f, z = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_size_t
    lib.nd_model_new.restype = p
    lib.nd_model_new.argtypes = [i, i, i, i, i, i, i, f, f]
    lib.nd_model_free.argtypes = [p]
    lib.nd_set_matrix.argtypes = [p, i, i, i, i, i, p, p, p]
    lib.nd_set_norms.argtypes = [p, i, p, p, p, p]
    lib.nd_scratch_bytes.restype = z
    lib.nd_scratch_bytes.argtypes = [p, i, i, i]
    lib.nd_matmul_scratch_bytes.restype = z
    lib.nd_matmul_scratch_bytes.argtypes = [i, i]
    lib.nd_matmul.restype = i
    lib.nd_matmul.argtypes = [p, i, i, i, p, p, p, i]
    lib.nd_decode.restype = i
    lib.nd_decode.argtypes = [p, i, p, p, p, p, p, p, p, p, p, p, i, i]
    lib.nd_to_half.argtypes = [p, p, i]
    lib.nd_embed.restype = i
    lib.nd_embed.argtypes = [p, i, p, p]
    return lib


@dataclass(frozen=True, slots=True)
class NativeMatrix:
    """A quantized weight as the kernel reads it (the tensors own the memory the kernel points into)."""

    kind: int
    out: int
    inner: int
    data: torch.Tensor
    scale: torch.Tensor | None  # Q8: the rows' scales
    bias: torch.Tensor | None

    @classmethod
    def q4(cls, weight: Int4Weight, bias: torch.Tensor | None) -> NativeMatrix:
        """Q4_1 weights (``w = d q + m``, the kernel's zero being ``m + 8 d``; d and m as halves, as the GGUF
        stores them), interleaved by 8 outputs where the outputs come in eights, else GGUF's own blocks."""
        out, inner = weight.codes.shape
        blocks = inner // GROUP_SIZE
        d = weight.scale.float()
        m = weight.zero.float() - 8 * d
        if out % 8 == 0:
            # [groups, blocks, chunk of 4 inputs, output, input]: vector j holds chunks j and j + 4
            chunks = weight.codes.view(out // 8, 8, blocks, 8, 4).permute(0, 2, 3, 1, 4)
            qs = (chunks[:, :, :4] | (chunks[:, :, 4:] << 4)).reshape(out // 8, blocks, 128)
            halves = [
                v.half().view(out // 8, 8, blocks).permute(0, 2, 1).contiguous().view(torch.uint8) for v in (d, m)
            ]
            data = torch.cat([*halves, qs], dim=-1).contiguous()  # [groups, blocks, 16 + 16 + 128]
            return cls(_KIND_Q4X8, out, inner, data, None, _float(bias))
        pairs = weight.codes.view(out, blocks, 2, GROUP_SIZE // 2)
        nibbles = pairs[:, :, 0] | (pairs[:, :, 1] << 4)
        scales = torch.stack([d, m], dim=-1).half().view(torch.uint8)  # [out, blocks, 4]
        return cls(_KIND_Q4, out, inner, torch.cat([scales, nibbles], dim=-1).contiguous(), None, _float(bias))

    @classmethod
    def q8(
        cls, codes: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None, *, interleaved: bool = False
    ) -> NativeMatrix:
        """Int8 rows ``w = scale * codes``: the codes tensor itself (``NativeDecoder`` moves it to huge pages
        and the backend's torch linears then read that copy), or, ``interleaved`` where the outputs come in
        eights, laid out by 8 outputs as ``q4``'s codes are."""
        out, inner = codes.shape
        if interleaved and out % 8 == 0:
            # [groups, blocks, chunk of 4 inputs, output, input]
            data = codes.view(out // 8, 8, inner // GROUP_SIZE, 8, 4).permute(0, 2, 3, 1, 4).contiguous()
            return cls(_KIND_Q8X8, out, inner, data, scale.float().contiguous(), _float(bias))
        return cls(_KIND_Q8, out, inner, codes.contiguous(), scale.float().contiguous(), _float(bias))


def _float(tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.float().contiguous()


def _ptr(tensor: torch.Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


@dataclass(frozen=True, slots=True)
class NativeLayer:
    input_norm: torch.Tensor
    post_norm: torch.Tensor
    q_norm: torch.Tensor | None
    k_norm: torch.Tensor | None
    qkv: NativeMatrix
    o: NativeMatrix
    gate_up: NativeMatrix
    down: NativeMatrix


@dataclass(frozen=True, slots=True)
class RowCache:
    """Where a decoded row's KV lives: float16 tensors' addresses, with a row's layer and head strides."""

    keys: int  # addresses
    values: int
    layer_stride: int
    head_stride: int


def huge_page_copies(tensors: Sequence[torch.Tensor]) -> tuple[mmap.mmap, list[torch.Tensor]]:
    """Copies of ``tensors`` in one anonymous mapping advised onto transparent huge pages (where the
    kernel offers them), each at a 64-byte boundary; the mapping lives as long as the copies need it."""
    offsets, total = [], 0
    for tensor in tensors:
        total = -(-total // 64) * 64
        offsets.append(total)
        total += tensor.numel() * tensor.element_size()
    arena = mmap.mmap(-1, max(total, 1))
    if hasattr(mmap, "MADV_HUGEPAGE"):
        arena.madvise(mmap.MADV_HUGEPAGE)
    flat = torch.frombuffer(arena, dtype=torch.uint8)
    copies = []
    for tensor, at in zip(tensors, offsets, strict=True):
        size = tensor.numel() * tensor.element_size()
        copy = flat[at : at + size].view(tensor.dtype).view(tensor.shape)
        copy.copy_(tensor)
        copies.append(copy)
    return arena, copies


class TeamSize:
    """How many threads decode: all of them, unless one thread is measured clearly faster.

    A step meets a barrier five times a layer; when another process (or the server's own event loop)
    holds one of the cores, every barrier waits for a descheduled thread and a two-thread step can take
    several times a one-thread step. Now and then one step runs with the other size (a probe), and the
    size changes when that step, with the same rows, took under ``MARGIN`` of the one before it. A probe
    costs a slow step when it loses, so the steps between probes double after each lost one, from
    ``PROBE_EVERY`` up to ``PROBE_EVERY_MOST``, and start again from ``PROBE_EVERY`` when the size changes.
    The size never changes a result: each output is computed by the same arithmetic on any thread."""

    PROBE_EVERY = 32
    PROBE_EVERY_MOST = 512
    MARGIN = 0.8

    def __init__(self, threads: int) -> None:
        self.threads = self.most = max(1, threads)
        self.every = self.PROBE_EVERY  # steps from one probe to the next
        self._since_probe = 0
        self._last: tuple[int, float] | None = None  # rows and seconds of the last call at the current size

    def next(self, rows: int) -> int:
        self._since_probe += 1
        if self.most > 1 and self._since_probe >= self.every:
            self._since_probe = 0
            return 1 if self.threads == self.most else self.most
        return self.threads

    def took(self, rows: int, team: int, seconds: float) -> None:
        if team == self.threads:
            self._last = (rows, seconds)
        elif self._last is not None and self._last[0] == rows:
            if seconds < self.MARGIN * self._last[1]:
                self.threads, self._last, self.every = team, (rows, seconds), self.PROBE_EVERY
            else:
                self.every = min(2 * self.every, self.PROBE_EVERY_MOST)


class NativeDecoder:
    def __init__(
        self,
        lib: ctypes.CDLL,
        *,
        hidden: int,
        heads: int,
        kv_heads: int,
        head_dim: int,
        inter: int,
        vocab: int,
        eps: float,
        layers: Sequence[NativeLayer],
        final_norm: torch.Tensor,
        head: NativeMatrix,
        threads: int,
    ) -> None:
        self._lib = lib
        # Every weight streams from memory once a step: on huge pages, its pages cost few TLB misses.
        matrices = [m for layer in layers for m in (layer.qkv, layer.o, layer.gate_up, layer.down)] + [head]
        self._arena, moved = huge_page_copies([m.data for m in matrices])
        relocated = [replace(m, data=data) for m, data in zip(matrices, moved, strict=True)]
        self._layers = [
            NativeLayer(
                _float(layer.input_norm),  # type: ignore[arg-type]
                _float(layer.post_norm),  # type: ignore[arg-type]
                _float(layer.q_norm),
                _float(layer.k_norm),
                *relocated[4 * i : 4 * i + 4],
            )
            for i, layer in enumerate(layers)
        ]
        self._final_norm = final_norm.float().contiguous()
        self._head = relocated[-1]
        self._vocab, self._threads = vocab, threads
        self.team = TeamSize(threads)
        self._handle = lib.nd_model_new(
            len(layers), hidden, heads, kv_heads, head_dim, inter, vocab, eps, head_dim**-0.5
        )
        if not self._handle:
            raise MemoryError("nd_model_new")
        for index, layer in enumerate(self._layers):
            for which, matrix in ((_QKV, layer.qkv), (_O, layer.o), (_GATE_UP, layer.gate_up), (_DOWN, layer.down)):
                self._set(index, which, matrix)
            lib.nd_set_norms(
                self._handle,
                index,
                _ptr(layer.input_norm),
                _ptr(layer.post_norm),
                _ptr(layer.q_norm),
                _ptr(layer.k_norm),
            )
        self._set(HEAD, 0, self._head)
        lib.nd_set_norms(self._handle, HEAD, _ptr(self._final_norm), None, None, None)
        self._scratch = torch.empty(0, dtype=torch.uint8)

    def matrices(self, layer: int) -> tuple[NativeMatrix, NativeMatrix, NativeMatrix, NativeMatrix]:
        """The q/k/v, o, gate/up and down matrices of ``layer`` as this decoder holds them."""
        held = self._layers[layer]
        return held.qkv, held.o, held.gate_up, held.down

    def matrix(self, layer: int, which: int) -> NativeMatrix:
        """Matrix ``which`` of ``layer``, or the LM head for layer -1 (``HEAD``)."""
        return self._head if layer == HEAD else self.matrices(layer)[which]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The LM head's rows ``ids``, dequantized (float32): a tied embedding reads them there."""
        flat = ids.reshape(-1).to(torch.int64).contiguous()
        out = torch.empty(flat.numel(), self._head.inner, dtype=torch.float32)
        if self._lib.nd_embed(self._handle, flat.numel(), flat.data_ptr(), out.data_ptr()):
            raise IndexError(f"a token id outside the vocabulary of {self._head.out}")
        return out.view(*ids.shape, self._head.inner)

    def _set(self, index: int, which: int, matrix: NativeMatrix) -> None:
        self._lib.nd_set_matrix(
            self._handle,
            index,
            which,
            matrix.kind,
            matrix.out,
            matrix.inner,
            _ptr(matrix.data),
            _ptr(matrix.scale),
            _ptr(matrix.bias),
        )

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle:
            self._lib.nd_model_free(handle)

    def matmul(self, layer: int, which: int, x: torch.Tensor) -> torch.Tensor:
        """``x @ w.T (+ bias)`` in float32 for matrix ``which`` (0 qkv, 1 o, 2 gate_up, 3 down) of ``layer``,
        through the same kernels as the decode step (``x`` quantized to int8 per block of 32)."""
        matrix = self.matrix(layer, which)
        count = x.shape[0]
        x = x.float().contiguous()
        out = torch.empty(count, matrix.out, dtype=torch.float32)
        scratch = self._scratch_of(self._lib.nd_matmul_scratch_bytes(count, matrix.inner))
        if self._lib.nd_matmul(self._handle, layer, which, count, x.data_ptr(), out.data_ptr(), scratch, self._threads):
            raise RuntimeError("nd_matmul failed")
        return out

    def _scratch_of(self, needed: int) -> int:
        if self._scratch.numel() < needed:
            self._scratch = torch.empty(needed + needed // 2, dtype=torch.uint8)
        return self._scratch.data_ptr()

    def decode(
        self,
        x: torch.Tensor,
        positions: Sequence[int],
        caches: Sequence[RowCache],
        cos: torch.Tensor,
        sin: torch.Tensor,
    ) -> torch.Tensor:
        """Logits [rows, vocab] (float32) of the rows' tokens, whose embeddings are ``x``; each row's key
        and value go into its cache at its position."""
        count = x.shape[0]
        x = x.float().contiguous()
        context = max(positions) + 1
        scratch = self._scratch_of(self._lib.nd_scratch_bytes(self._handle, count, context, self._threads))
        logits = torch.empty(count, self._vocab, dtype=torch.float32)
        longs = ctypes.c_int64 * count
        team = self.team.next(count)
        started = time.perf_counter()
        status = self._lib.nd_decode(
            self._handle,
            count,
            x.data_ptr(),
            (ctypes.c_int32 * count)(*positions),
            longs(*(cache.keys for cache in caches)),
            longs(*(cache.values for cache in caches)),
            longs(*(cache.layer_stride for cache in caches)),
            longs(*(cache.head_stride for cache in caches)),
            cos.data_ptr(),
            sin.data_ptr(),
            logits.data_ptr(),
            scratch,
            context,
            team,
        )
        if status != 0:
            raise RuntimeError(f"nd_decode failed ({status})")
        self.team.took(count, team, time.perf_counter() - started)
        return logits


class NativeLinear(SwitchingLinear):
    """A linear of the native decoder for prompt rows (``x`` quantized to int8 per block, as in a decode
    step), or their dense copy where that is measured faster (``SwitchingLinear``)."""

    __slots__ = ("bias", "decoder", "dense", "layer", "which")

    def __init__(self, decoder: NativeDecoder, layer: int, which: int, bias: torch.Tensor | None) -> None:
        self.decoder, self.layer, self.which = decoder, layer, which
        self.bias = bias  # for the dense copy; the native matrix adds its own
        self.use_dense(None)

    @property
    def in_features(self) -> int:
        return self.decoder.matrix(self.layer, self.which).inner

    def identity(self) -> Iterable[torch.Tensor]:
        matrix = self.decoder.matrix(self.layer, self.which)
        return (matrix.data.view(-1)[:4096], *(() if matrix.scale is None else (matrix.scale,)))

    def quantized(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder.matmul(self.layer, self.which, x).to(x.dtype)
