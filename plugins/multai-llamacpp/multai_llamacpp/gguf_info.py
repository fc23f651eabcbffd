"""What a GGUF file says about its model, read from the header only (no weights)."""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LAYER_RE = re.compile(r"^blk\.(\d+)\.")
_SPLIT_RE = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass(frozen=True)
class GgufInfo:
    architecture: str
    n_layer: int
    n_ctx_train: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim_k: int
    head_dim_v: int
    n_ff: int
    n_vocab: int
    layer_weight_bytes: list[int] = field(default_factory=list)
    token_embd_bytes: int = 0
    output_bytes: int = 0
    """The output projection; for tied embeddings, the size of token_embd (llama.cpp makes a
    copy of it for the output layer on a GPU)."""
    other_bytes: int = 0
    total_weight_bytes: int = 0
    pooling_type: int | None = None
    chat_template: str | None = None
    sliding_window: int = 0

    @property
    def kv_bytes_per_token_per_layer(self) -> int:
        """f16 K and V for one token in one layer."""
        return 2 * self.n_head_kv * (self.head_dim_k + self.head_dim_v)


def _scalar(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def split_paths(path: Path) -> list[Path]:
    """All files of a split GGUF (``name-00001-of-00003.gguf``), or just ``path``."""
    match = _SPLIT_RE.match(path.name)
    if match is None:
        return [path]
    count = int(match["count"])
    stem = match["stem"]
    paths = [path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    return [p for p in paths if p.exists()]


class _HeaderReader:
    """A minimal GGUF header parser: key/values (arrays other than short numeric ones are
    skipped, not decoded) and tensor infos. ``gguf.GGUFReader`` decodes every vocabulary
    string, which takes seconds; this takes milliseconds."""

    _SCALARS: dict[int, str] = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }
    _STRING = 8
    _ARRAY = 9

    def __init__(self, data: memoryview) -> None:
        self._data = data
        self._pos = 0

    def _unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        value = struct.unpack_from("<" + fmt, self._data, self._pos)[0]
        self._pos += size
        return value

    def _string(self) -> str:
        length = self._unpack("Q")
        raw = bytes(self._data[self._pos : self._pos + length])
        self._pos += length
        return raw.decode("utf-8", errors="replace")

    def _value(self, vtype: int) -> Any:
        if vtype == self._STRING:
            return self._string()
        if vtype == self._ARRAY:
            item_type = self._unpack("I")
            count = self._unpack("Q")
            if item_type == self._STRING:
                for _ in range(count):
                    length = self._unpack("Q")
                    self._pos += length
                return _ArrayLen(count)
            fmt = self._SCALARS[item_type]
            size = struct.calcsize(fmt)
            if count > 4096:
                self._pos += size * count
                return _ArrayLen(count)
            values = list(struct.unpack_from(f"<{count}{fmt}", self._data, self._pos))
            self._pos += size * count
            return values
        return self._unpack(self._SCALARS[vtype])

    def parse(self) -> tuple[dict[str, Any], list[tuple[str, int]]]:
        if bytes(self._data[:4]) != b"GGUF":
            raise ValueError("bad magic")
        self._pos = 4
        version = self._unpack("I")
        if version < 2:
            raise ValueError(f"GGUF version {version} is not supported")
        n_tensors = self._unpack("Q")
        n_kv = self._unpack("Q")
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self._string()
            kv[key] = self._value(self._unpack("I"))
        tensors: list[tuple[str, int]] = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._unpack("I")
            n_elements = 1
            for _ in range(n_dims):
                n_elements *= self._unpack("Q")
            ggml_type = self._unpack("I")
            self._pos += 8  # offset
            tensors.append((name, _tensor_bytes(ggml_type, n_elements)))
        return kv, tensors


class _ArrayLen(int):
    """An array that was skipped; its value is its length."""


def _tensor_bytes(ggml_type: int, n_elements: int) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError) as exc:
        raise ValueError(f"unknown tensor type {ggml_type}") from exc
    return int(n_elements // block_size * type_size)


def _read_header(path: Path) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        try:
            return _HeaderReader(view).parse()
        except (struct.error, IndexError, UnicodeDecodeError) as exc:
            raise ValueError(f"truncated or corrupt GGUF header: {exc}") from exc
        finally:
            view.release()


def read_gguf_info(path: str | Path) -> GgufInfo:
    """Parse the header(s). Raises ``ValueError`` for a file that is not a usable GGUF."""
    main = Path(path)
    if not main.is_file():
        raise ValueError(f"GGUF file not found: {main}")
    kv: dict[str, Any] = {}
    tensors: list[tuple[str, int]] = []
    for i, part in enumerate(split_paths(main)):
        try:
            part_kv, part_tensors = _read_header(part)
        except (OSError, ValueError) as exc:
            raise ValueError(f"not a readable GGUF file: {part}: {exc}") from exc
        if i == 0:
            kv = part_kv
        tensors.extend(part_tensors)

    arch = str(kv.get("general.architecture", "llama"))

    def arch_int(name: str, default: int = 0) -> int:
        value = _scalar(kv.get(f"{arch}.{name}", default))
        if isinstance(value, list):  # per-layer arrays (e.g. head_count_kv): take the largest
            value = max(value) if value else default
        return int(value)

    n_embd = arch_int("embedding_length")
    n_head = arch_int("attention.head_count", 1) or 1
    n_head_kv = arch_int("attention.head_count_kv", n_head) or n_head
    head_dim = n_embd // n_head if n_head else 0
    head_dim_k = arch_int("attention.key_length", head_dim) or head_dim
    head_dim_v = arch_int("attention.value_length", head_dim) or head_dim

    layer_bytes: dict[int, int] = {}
    token_embd = output = other = 0
    for name, size in tensors:
        match = _LAYER_RE.match(name)
        if match:
            idx = int(match.group(1))
            layer_bytes[idx] = layer_bytes.get(idx, 0) + size
        elif name.startswith("token_embd."):
            token_embd += size
        elif name.startswith("output."):
            output += size
        else:
            other += size
    n_layer = arch_int("block_count", len(layer_bytes)) or len(layer_bytes)
    n_vocab = arch_int("vocab_size") or int(kv.get("tokenizer.ggml.tokens", 0) or 0)
    pooling = kv.get(f"{arch}.pooling_type")
    template = kv.get("tokenizer.chat_template")
    return GgufInfo(
        architecture=arch,
        n_layer=n_layer,
        n_ctx_train=arch_int("context_length"),
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim_k=head_dim_k,
        head_dim_v=head_dim_v,
        n_ff=arch_int("feed_forward_length"),
        n_vocab=n_vocab,
        layer_weight_bytes=[layer_bytes.get(i, 0) for i in range(max(n_layer, len(layer_bytes)))],
        token_embd_bytes=token_embd,
        output_bytes=output or token_embd,
        other_bytes=other,
        total_weight_bytes=sum(size for _, size in tensors),
        pooling_type=int(_scalar(pooling)) if pooling is not None else None,
        chat_template=str(template) if isinstance(template, str) else None,
        sliding_window=arch_int("attention.sliding_window"),
    )
