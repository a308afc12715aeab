import copy
import os
import time

import pytest
import torch

from rome.model.loading import ModelUnavailableError, load_model
from rome.model.runtime import resolve_device, resolve_dtype
from testpaths import MODELS_DIR


def test_offline_hub_id_fails_fast_with_help():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    with pytest.raises(ModelUnavailableError, match="model.name.*local folder"):
        load_model("gpt2-xl-not-cached-here/none")


def test_missing_local_folder_is_reported():
    with pytest.raises(ModelUnavailableError):
        load_model("./no/such/model/folder")


def test_dtype_and_device_resolution():
    assert resolve_dtype("bf16") is torch.bfloat16
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("float8")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="model.device"):
            resolve_device("cuda")


@pytest.mark.gemma
def test_embedded_gemma_knows_famous_facts(gemma):
    assert gemma.spec.name == "gemma3" and gemma.n_layers == 18
    facts = {
        "The Eiffel Tower is located in the city of": "Paris",
        "The capital of Japan is": "Tokyo",
        "Michael Jordan plays the sport of": "basketball",
        "The Space Needle is located in the city of": "Seattle",
    }
    hits = 0
    for prompt, answer in facts.items():
        with torch.no_grad():
            logits = gemma.model(**gemma.encode(prompt)).logits[0, -1]
        hits += gemma.tokenizer.decode(logits.argmax()).strip() == answer
    assert hits >= 3


@pytest.mark.gemma
def test_converted_copy_is_cached_and_reloaded(gemma, monkeypatch):
    import rome.model.loading as models
    from rome.model.loading import embedded_gemma_dir
    d = embedded_gemma_dir(MODELS_DIR)
    assert (d / "conversion.json").exists() and (d / "config.json").exists()

    def no_conversion(*a, **kw):
        raise AssertionError("the cached copy was converted again")

    monkeypatch.setattr(models, "_convert_embedded_gemma", no_conversion)
    again = load_model("gemma-3-270m", cache=MODELS_DIR)
    p0 = next(gemma.model.parameters())
    assert torch.equal(next(again.model.parameters()), p0)


def test_context_length_comes_from_the_config(tiny_gpt2):
    assert tiny_gpt2.context_length == tiny_gpt2.model.config.n_positions


def test_parallel_first_loads_convert_the_embedded_model_once(tmp_path, monkeypatch):
    """Workflow jobs starting together must not race on the first conversion."""
    import threading
    import types

    from rome.model import loading as models
    calls = []

    def fake_convert(pkg, root, target, log):
        calls.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other thread to arrive and wait on the lock
        target.mkdir()
        (target / "conversion.json").write_text("{}")

    monkeypatch.setattr(models, "_gguf_package", lambda: types.SimpleNamespace(EXPECTED_SHA256="ab" * 32))
    monkeypatch.setattr(models, "_convert_embedded_gemma", fake_convert)
    results = []
    threads = [threading.Thread(target=lambda: results.append(models.embedded_gemma_dir(tmp_path, log=lambda m: None)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and (results[0] / "conversion.json").exists()


def test_loading_asks_for_the_configured_device_and_dtype(tmp_path, monkeypatch, tiny_gpt2):
    """from_pretrained gets the device (device_map) and dtype itself: the weights never pass
    through a float32 copy on the host."""
    import transformers

    import rome.model.loading as models

    calls = []

    def fake_from_pretrained(path, **kwargs):
        calls.append((path, kwargs))
        return copy.deepcopy(tiny_gpt2.model)  # loading converts it: never the shared fixture's model

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_from_pretrained)
    monkeypatch.setattr(models, "load_tokenizer", lambda *a, **k: tiny_gpt2.tokenizer)
    folder = tmp_path / "model"
    folder.mkdir()
    lm = load_model(str(folder), device="cpu", dtype="bfloat16")
    assert len(calls) == 1
    path, kwargs = calls[0]
    assert path == str(folder)
    assert kwargs["dtype"] is torch.bfloat16
    assert kwargs["device_map"] == "cpu"
    assert lm.dtype is torch.bfloat16 and lm.device == torch.device("cpu")


def test_unsupported_library_versions_fail_loudly():
    from rome.model.loading import check_versions

    check_versions({"transformers": "5.24.0", "torch": "2.13.0+cpu"})
    with pytest.raises(RuntimeError, match=r"transformers 4\.46\.0 \(needs >= 5\.0\)"):
        check_versions({"transformers": "4.46.0", "torch": "2.13.0"})
    with pytest.raises(RuntimeError, match=r"torch 2\.5\.1 \(needs >= 2\.6\)"):
        check_versions({"transformers": "5.0.0", "torch": "2.5.1"})


class _FakeTokenizer:
    """Encodes any text as the given ids (a stand-in for a converted tokenizer)."""

    def __init__(self, ids):
        self.ids = list(ids)

    def __call__(self, text):
        return {"input_ids": self.ids}


def test_embedded_tokenizer_probe_refuses_wrong_conversions():
    from rome.model.loading import TOKENIZER_PROBE, TokenizerConversionError, check_embedded_tokenizer

    text, want = TOKENIZER_PROBE
    check_embedded_tokenizer(_FakeTokenizer(want), "here", version="5.25.0")  # the right ids pass
    # transformers 5.18-5.22: the same pieces without <bos>
    with pytest.raises(TokenizerConversionError, match=r"no <bos> first.*transformers 5\.20\.0.*>= 5\.23"):
        check_embedded_tokenizer(_FakeTokenizer(want[1:]), "folder X", version="5.20.0")
    # transformers 5.17: no merges, the sentence falls apart into character pairs
    pieces = [818, 645, 2642, 535, 558, 572, 497, 563, 537, 629, 502, 524, 528, 494, 499, 505, 665, 529]
    with pytest.raises(TokenizerConversionError, match=r"from folder X.*18 tokens instead of 12"):
        check_embedded_tokenizer(_FakeTokenizer(pieces), "folder X", version="5.17.0")
    with pytest.raises(TokenizerConversionError, match="other token ids"):
        check_embedded_tokenizer(_FakeTokenizer([2] + [7] * 11), "folder X", version="5.25.0")


@pytest.mark.gemma
def test_embedded_tokenizer_encodes_the_probe_as_gemma_does(gemma_tok):
    from rome.model.loading import TOKENIZER_PROBE

    text, want = TOKENIZER_PROBE
    assert gemma_tok.bos_token == "<bos>" and gemma_tok.bos_token_id == want[0]
    # the pieces by hand: <bos>, then whole words (the Gemma 3 vocabulary holds all of them)
    assert [gemma_tok.decode([i]) for i in want] == ["<bos>", "The", " Eiffel", " Tower", " is", " located", " in",
                                                    " the", " city", " of", " Paris", "."]
    assert list(gemma_tok(text)["input_ids"]) == list(want)
