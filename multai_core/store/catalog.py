"""What `multai pull NAME` means: catalog names and hub references, and which of a repository's
files each backend needs (safetensors, never pickles; the one GGUF quantization asked for)."""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".msgpack", ".h5")
FOLDER_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".npy", ".tiktoken", ".jinja")
OTHER_RUNTIME_SUFFIXES = (".onnx", ".onnx_data", ".pb", ".tflite")
DEFAULT_QUANTIZATION = "Q4_K_M"
PIPER_CONFIG_SUFFIX = ".json"  # a Piper voice is NAME.onnx with NAME.onnx.json beside it
_VARIANT = re.compile(r"\.(fp16|fp32|bf16|non_ema|ema)\.safetensors$")


class PullRefused(Exception):
    """A pull that cannot go on; the message says why and what to do instead."""


@dataclass(frozen=True)
class CatalogEntry:
    backend: str
    repo: str
    file: str | None = None  # a GGUF quantization tag or a glob; None: the backend's folder
    revision: str | None = None  # None: the newest; the pulled sha is recorded either way
    options: dict[str, Any] = field(default_factory=dict)
    about: str = ""


def _gguf(repo: str, about: str) -> dict[str, CatalogEntry]:
    """One catalog name per common quantization, the unqualified name at Q4_K_M."""
    base = about.split(",")[0]
    entries = {
        f"{base}:{q.lower()}": CatalogEntry("llamacpp", repo, file=q, about=about)
        for q in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")
    }
    entries[base] = entries[f"{base}:{DEFAULT_QUANTIZATION.lower()}"]
    return entries


CATALOG: dict[str, CatalogEntry] = {
    **_gguf("bartowski/SmolLM2-360M-Instruct-GGUF", "smollm2-360m-instruct, chat"),
    **_gguf("bartowski/SmolLM2-1.7B-Instruct-GGUF", "smollm2-1.7b-instruct, chat"),
    **_gguf("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct, chat"),
    **_gguf("Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct, chat"),
    **_gguf("Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct, chat"),
    **_gguf("bartowski/Llama-3.2-1B-Instruct-GGUF", "llama-3.2-1b-instruct, chat"),
    **_gguf("bartowski/Llama-3.2-3B-Instruct-GGUF", "llama-3.2-3b-instruct, chat"),
    **{
        f"whisper-{size}": CatalogEntry(
            "whisper", f"Systran/faster-whisper-{size}", about="speech to text"
        )
        for size in ("tiny", "tiny.en", "base", "base.en", "small", "medium", "large-v3")
    },
    "bark-small": CatalogEntry("bark", "suno/bark-small", about="text to speech"),
    "sdxl-turbo": CatalogEntry(
        "sdxl", "stabilityai/sdxl-turbo", about="text to image in 1-4 steps"
    ),
    "llava-1.5-7b": CatalogEntry("llava", "llava-hf/llava-1.5-7b-hf", about="vision chat"),
}


@dataclass(frozen=True)
class Wanted:
    """What to pull: a repository, maybe a file choice and revision, maybe a backend."""

    repo: str
    file: str | None
    revision: str | None
    backend: str | None
    catalog: str | None
    options: dict[str, Any]
    default_name: str


_REFERENCE = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?::(?P<file>[^@]+))?(?:@(?P<rev>[\w./-]+))?$")


def wanted(name: str) -> Wanted:
    """A catalog name or ``owner/repo[:file-or-pattern][@revision]``; PullRefused otherwise."""
    if (entry := CATALOG.get(name.lower())) is not None:
        return Wanted(
            entry.repo,
            entry.file,
            entry.revision,
            entry.backend,
            name.lower(),
            dict(entry.options),
            name.lower(),
        )
    if (match := _REFERENCE.match(name)) is not None:
        repo, file = match["repo"], match["file"]
        default = repo.split("/")[1].lower().removesuffix("-gguf")
        if file and _quantization(file):
            default = f"{default}:{file.lower()}"
        return Wanted(repo, file, match["rev"], None, None, {}, default)
    names = [n for n in CATALOG if ":" in name or ":" not in n]  # quantizations when asked
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise PullRefused(
        f"{name!r} is neither a catalog name nor a hub reference (owner/repo[:file][@revision])."
        f"{hint} `multai pull --help` lists the catalog."
    )


def human_size(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def _quantization(text: str) -> bool:
    return not any(c in text for c in "*?[./")


@dataclass(frozen=True)
class Selection:
    backend: str
    files: tuple[str, ...]
    model_file: str | None  # the file the backend loads, None: the whole folder


def select(
    files: dict[str, int],
    want: Wanted,
    *,
    backend: str | None,
    sniffed: str | None,
) -> Selection:
    """The files to fetch for ``want`` among ``files`` (path -> size). ``backend``: the one the
    user named; ``sniffed``: what the repository's config files say (see :func:`sniff_config`)."""
    backend = backend or want.backend
    ggufs = sorted(p for p in files if p.lower().endswith(".gguf"))
    if backend in (None, "llamacpp") and ggufs:
        chosen = _choose_gguf(ggufs, want)
        return Selection("llamacpp", _gguf_parts(chosen, ggufs, want.repo), chosen)
    if backend == "llamacpp":
        raise PullRefused(f"{want.repo} has no .gguf file: llama.cpp needs one")
    if backend == "piper" or (backend is None and _wants_a_voice(files, want.file)):
        voice = _choose_voice(files, want)
        return Selection("piper", (voice, voice + PIPER_CONFIG_SUFFIX), voice)
    if want.file and not _quantization(want.file):
        picked = tuple(sorted(p for p in files if fnmatch.fnmatch(p, want.file)))
        if not picked:
            raise PullRefused(f"no file of {want.repo} matches {want.file!r}")
        _refuse_pickles(picked, want.repo)
        if backend is None:
            raise PullRefused(_ask_backend(want.repo))
        return Selection(backend, picked, picked[0] if len(picked) == 1 else None)
    if backend == "whisper" or (backend is None and _is_ctranslate2(files)):
        need = tuple(
            sorted(
                p
                for p in files
                if "/" not in p
                and (
                    p in ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json")
                    or p.startswith("vocabulary.")
                )
            )
        )
        if "model.bin" not in need:
            raise PullRefused(f"{want.repo} is not a CTranslate2 Whisper folder (no model.bin)")
        return Selection("whisper", need, None)
    if "model_index.json" in files:  # a diffusers pipeline: its component folders
        picked = _pipeline_files(files, want.repo)
        backend = backend or (sniffed if sniffed == "sdxl" else None)
    else:
        picked = tuple(sorted(p for p in files if p.endswith(FOLDER_SUFFIXES)))
        backend = backend or sniffed
    _refuse_pickles_only(files, picked, want.repo)
    if backend is None:
        raise PullRefused(_ask_backend(want.repo))
    return Selection(backend, picked, None)


def _pipeline_files(files: dict[str, int], repo: str) -> tuple[str, ...]:
    """model_index.json and the folders beside it, without fp16 variants. A folder whose only
    weights are another runtime's (the ONNX export sdxl-turbo carries) is not a component
    diffusers loads; a component with pickled weights only is refused before any download."""
    folders: dict[str, list[str]] = {}
    for path in files:
        if "/" in path:
            folders.setdefault(path.split("/", 1)[0], []).append(path)
    picked = ["model_index.json"]
    for folder, paths in sorted(folders.items()):
        if not any(p.endswith(".safetensors") for p in paths):
            if pickles := sorted(p for p in paths if p.endswith(PICKLE_SUFFIXES)):
                raise PullRefused(
                    f"the {folder} of {repo} has only pickled weights ({pickles[0]}): loading "
                    "a pickle can run any code its author put in it, so MultAI fetches "
                    "safetensors only. Look for a safetensors copy of this model on the hub."
                )
            if any(p.endswith(OTHER_RUNTIME_SUFFIXES) for p in paths):
                continue
        picked += [p for p in paths if p.endswith(FOLDER_SUFFIXES) and not _VARIANT.search(p)]
    return tuple(sorted(picked))


_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
"""A split GGUF's part (``name-00001-of-00003.gguf``): llama.cpp loads the first, then the rest."""


def _whole(path: str) -> str:
    """The name a split GGUF's parts share (``name.gguf``); other paths unchanged."""
    return _SPLIT.sub(".gguf", path)


def _choose_gguf(ggufs: list[str], want: Wanted) -> str:
    """The GGUF file to load: the one file, or the first part of a split one."""
    firsts = [p for p in ggufs if (m := _SPLIT.search(p)) is None or int(m[1]) == 1]
    wanted_file = want.file
    if wanted_file and not _quantization(wanted_file):
        matches = [
            p
            for p in firsts
            if fnmatch.fnmatch(p, wanted_file) or fnmatch.fnmatch(_whole(p), wanted_file)
        ]
    else:
        tag = (wanted_file or DEFAULT_QUANTIZATION).lower()
        pattern = rf"[-._]{re.escape(tag)}\.gguf$"
        matches = [p for p in firsts if re.search(pattern, _whole(p).lower())]
        if not matches and wanted_file is None and len(firsts) == 1:
            matches = firsts
    if len(matches) == 1:
        return matches[0]
    tags = sorted({gguf_quantization(p) for p in ggufs})
    if not matches:
        raise PullRefused(
            f"{want.repo} has no GGUF file for {wanted_file or DEFAULT_QUANTIZATION!r}; "
            f"it has: {', '.join(tags)}. Name one: {want.repo}:{tags[0]}"
        )
    raise PullRefused(
        f"{wanted_file!r} matches several files of {want.repo}: {', '.join(matches[:6])}; "
        "name one file"
    )


def _gguf_parts(first: str, ggufs: list[str], repo: str) -> tuple[str, ...]:
    """``first`` and, when it is the first part of a split GGUF, every other part."""
    match = _SPLIT.search(first)
    if match is None:
        return (first,)
    count = int(match[2])
    stem = first[: match.start()]
    parts = tuple(f"{stem}-{i:05d}-of-{match[2]}.gguf" for i in range(1, count + 1))
    present = set(ggufs)
    missing = [p for p in parts if p not in present]
    if missing:
        raise PullRefused(
            f"{first} of {repo} is split in {count} parts but {len(missing)} are missing "
            f"({missing[0]}): llama.cpp needs them all"
        )
    return parts


def gguf_quantization(path: str) -> str:
    """The quantization tag at the end of a GGUF file's name (``Q4_K_M``), split or not."""
    stem = _whole(path).rsplit("/", 1)[-1][: -len(".gguf")]
    return re.split(r"[-.]", stem)[-1]


def _voices_matching(files: dict[str, int], file: str | None) -> list[str]:
    """The Piper voices (an .onnx with its .onnx.json beside it) that ``file`` names: all when
    None, by glob, or by voice name (``en_US-joe-medium``)."""
    voices = sorted(p for p in files if p.endswith(".onnx") and p + PIPER_CONFIG_SUFFIX in files)
    if file is None:
        return voices
    if _quantization(file):
        return [v for v in voices if v.rsplit("/", 1)[-1].lower() == f"{file.lower()}.onnx"]
    return [v for v in voices if fnmatch.fnmatch(v, file)]


def _wants_a_voice(files: dict[str, int], file: str | None) -> bool:
    """A repository with Piper voices, asked for one of them (or for a voice name it lacks)."""
    if not _voices_matching(files, None):
        return False
    return file is None or _quantization(file) or bool(_voices_matching(files, file))


def _choose_voice(files: dict[str, int], want: Wanted) -> str:
    matches = _voices_matching(files, want.file)
    if len(matches) == 1:
        return matches[0]
    names = [v.rsplit("/", 1)[-1].removesuffix(".onnx") for v in _voices_matching(files, None)]
    if not names:
        raise PullRefused(
            f"{want.repo} has no Piper voice: Piper needs an .onnx file with its .onnx.json"
        )
    listed = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    which = "has several Piper voices" if len(matches) > 1 else f"has no voice {want.file!r}"
    raise PullRefused(f"{want.repo} {which}: {listed}. Name one: {want.repo}:{names[0]}")


def _is_ctranslate2(files: dict[str, int]) -> bool:
    return (
        "model.bin" in files
        and "config.json" in files
        and any(p.startswith("vocabulary.") or p == "tokenizer.json" for p in files)
    )


def _refuse_pickles(picked: tuple[str, ...], repo: str) -> None:
    pickles = [p for p in picked if p.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise PullRefused(
            f"{', '.join(pickles[:3])} of {repo} are pickled weights: loading a pickle can run "
            "any code its author put in it, so MultAI fetches safetensors only"
        )


def _refuse_pickles_only(files: dict[str, int], picked: tuple[str, ...], repo: str) -> None:
    if any(p.endswith(".safetensors") for p in picked):
        return
    pickles = sorted(p for p in files if p.endswith(PICKLE_SUFFIXES))
    if pickles:
        raise PullRefused(
            f"{repo} has only pickled weights ({', '.join(pickles[:3])}): loading a pickle can "
            "run any code its author put in it, so MultAI fetches safetensors only. Look for a "
            "safetensors copy of this model on the hub."
        )
    raise PullRefused(
        f"{repo} has no weights MultAI can load (.gguf, .safetensors, or a Piper voice: "
        ".onnx with its .onnx.json)"
    )


def _ask_backend(repo: str) -> str:
    return (
        f"cannot tell which backend serves {repo} from its files: name one with --backend "
        "(llamacpp, whisper, piper, sdxl, bark, llava)"
    )


def sniff_config(config: dict[str, Any]) -> str | None:
    """The backend a repository's model_index.json or config.json points at."""
    name = str(config.get("_class_name", ""))
    if name.startswith("StableDiffusionXL"):
        return "sdxl"
    architectures = [str(a) for a in config.get("architectures", [])]
    if any(a.startswith("Llava") for a in architectures):
        return "llava"
    if "BarkModel" in architectures or config.get("model_type") == "bark":
        return "bark"
    return None


def catalog_lines() -> list[str]:
    """The catalog for --help: one line per model, quantizations folded."""
    lines = []
    for name, entry in CATALOG.items():
        if ":" in name:
            continue
        quant = " (:q4_k_m :q5_k_m :q6_k :q8_0)" if entry.backend == "llamacpp" else ""
        lines.append(f"  {name}{quant}  {entry.backend}: {entry.about.split(', ')[-1]}")
    return lines
