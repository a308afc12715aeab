"""Everything a trace of one prompt shares across restorations: tokens, answer, noise, clean states.

Both engines start from the same :class:`PreparedPrompt`, so they see the same noise
(drawn once per prompt from the seed) and restore the same clean values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

import torch

from ..model.hooks import TraceDict
from ..model.tokens import Encoded, encode_text_with_subject, encode_with_subject
from .noise import EmbeddingStats, NoiseRule, corrupt, noise_scale, parse_noise, sample_noise, sample_noise_draws

if TYPE_CHECKING:
    from ..model.loaded_model import LoadedModel

PARTS = ("block", "mlp", "attn")
SEVERED_NOISE = ("same", "official")


@dataclass
class TraceSettings:
    """Settings of a causal trace (paper section 2.1, Appendix B)."""

    noise: str = "s3"
    samples: int = 10
    window: int = 10
    seed: int = 0
    extra_tokens: int = 0  # also corrupt this many tokens after the subject (Figs. 12, 15)
    replace: bool = False  # replace the subject embeddings by the noise instead of adding it
    # Severed paths (Figs. 3, 14): "same" freezes MLP/attention states recorded under the
    # patched pass's own noise (the paper's text); "official" records them under one draw of
    # the noise stream and runs the patched pass with the next draw (trace_with_repatch).
    severed_noise: str = "same"
    # The t<d> rule's χ² values: "fixed" (the official collect_embedding_tdist: RandomState(2)'s
    # first draws, the same for every prompt) or "fresh" (from each prompt's seeded stream).
    chi2_draws: str = "fixed"

    def __post_init__(self) -> None:
        from .noise import CHI2_DRAWS, NoiseRuleError  # a BadInputError and a ValueError

        if self.severed_noise not in SEVERED_NOISE:
            raise NoiseRuleError(f"severed_noise must be one of {SEVERED_NOISE}, got {self.severed_noise!r}")
        if self.chi2_draws not in CHI2_DRAWS:
            raise NoiseRuleError(f"chi2_draws (--chi2-draws) must be one of {CHI2_DRAWS}, got {self.chi2_draws!r}")
        for name, low, option in (("samples", 1, "--samples / config key tracing.samples"),
                                  ("window", 1, "--window / config key tracing.window"),
                                  ("extra_tokens", 0, "--extra-tokens")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise NoiseRuleError(f"trace setting {name} ({option}) must be an integer >= {low}, got {value!r}")

    def to_json(self) -> dict:
        """The settings that decide a trace (the cache key's ``settings``): ``chi2_draws`` only for
        the ``t<d>`` rule, the one rule it changes (the keys of the other rules stay as they were)."""
        d = dict(noise=str(self.noise), samples=self.samples, window=self.window, seed=self.seed,
                 extra_tokens=self.extra_tokens, replace=self.replace, severed_noise=self.severed_noise)
        if parse_noise(self.noise).kind == "student":
            d["chi2_draws"] = self.chi2_draws
        return d


@dataclass
class PreparedPrompt:
    lm: LoadedModel
    enc: Encoded
    input_ids: torch.Tensor  # [1, T]
    corrupt_positions: list[int]
    rule: NoiseRule
    stats: EmbeddingStats | None
    noise: torch.Tensor  # [S, len(corrupt_positions), hidden]
    settings: TraceSettings
    answer_id: int
    clean_prob: float
    clean_argmax: int = -1
    clean_states: dict[tuple[str, int], torch.Tensor] = field(default_factory=dict)  # [T, H]

    @property
    def n_tokens(self) -> int:
        return self.input_ids.shape[1]

    @property
    def n_layers(self) -> int:
        return self.lm.n_layers

    @property
    def samples(self) -> int:
        return self.noise.shape[0]

    @property
    def tokens(self) -> list[str]:
        return [self.lm.tokenizer.decode([t]) for t in self.input_ids[0].tolist()]

    def module_name(self, part: str, layer: int) -> str:
        return self.lm.spec.layer_name(part, layer)

    def noise_nu(self) -> float:
        return noise_scale(self.rule, self.stats)

    def corrupt_embeddings(self, x: torch.Tensor, offset: int = 0, repeat: int = 1) -> torch.Tensor:
        """Embedding output ``x`` [rows, T−offset, H] with noise at the corrupted positions.

        Rows are ``repeat`` blocks of the noise samples (row = r·S + s); positions before
        ``offset`` are not in ``x`` (they come from a cache).
        """
        keep = [(k, p - offset) for k, p in enumerate(self.corrupt_positions) if p >= offset]
        if not keep:
            return x
        ks = [k for k, _ in keep]
        pos = torch.tensor([p for _, p in keep], device=x.device)
        noise = self.noise[:, ks].to(x.device).repeat(repeat, 1, 1)
        out = x.clone()
        out[:, pos] = corrupt(x[:, pos], noise, self.rule, self.stats, self.settings.replace)
        return out


def with_noise_draw(prep: PreparedPrompt, draw: int) -> PreparedPrompt:
    """``prep`` with its noise replaced by draw number ``draw`` (0 = its own) of the same seeded
    stream; tokens, answer and clean states are shared."""
    S, n, hidden = prep.noise.shape
    noise = sample_noise_draws(prep.rule, prep.stats, S, n, hidden, prep.settings.seed, draw + 1,
                               dtype=prep.noise.dtype, chi2=prep.settings.chi2_draws)[draw]
    return dc_replace(prep, noise=noise)


def answer_token(tokenizer, answer: str, prompt: str = "") -> int:
    """First token id of ``answer`` as it would follow ``prompt`` (a space is added when needed)."""
    text = answer if (prompt.endswith(" ") or answer.startswith(" ")) else " " + answer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"answer {answer!r} tokenizes to nothing")
    return int(ids[0])


def encode_prompt(tokenizer, prompt: str, subject: str) -> Encoded:
    """``prompt`` is a template with ``{}`` or a finished text containing ``subject``."""
    if "{}" in prompt:
        return encode_with_subject(tokenizer, prompt, subject)
    return encode_text_with_subject(tokenizer, prompt, subject)


def all_part_names(lm) -> list[str]:
    return [lm.spec.layer_name(p, l) for l in range(lm.n_layers) for p in PARTS]


@torch.no_grad()
def record_states(lm, input_ids: torch.Tensor, embed_edit=None) -> tuple[torch.Tensor, dict]:
    """Last-position logits and every block/MLP/attention output [rows, T, H] of one forward pass."""
    spec = lm.spec
    names = {(p, l): spec.layer_name(p, l) for l in range(lm.n_layers) for p in PARTS}
    edit = None
    if embed_edit is not None:
        def edit(x, name):
            return embed_edit(x) if name == spec.embed else x
    with TraceDict(lm.model, [spec.embed] + list(names.values()), edit_output=edit, detach=True) as td:
        logits = lm.model(input_ids=input_ids, logits_to_keep=1).logits[:, -1]
    states = {key: td[name].output for key, name in names.items()}
    return logits, states


def prepare(
    lm, prompt: str, subject: str, settings: TraceSettings | None = None,
    stats: EmbeddingStats | None = None, expected: str | None = None,
) -> PreparedPrompt:
    """Tokenize, draw the noise and run the clean pass (recording every state)."""
    settings = settings or TraceSettings()
    rule = parse_noise(settings.noise)
    enc = encode_prompt(lm.tokenizer, prompt, subject)
    T = len(enc)
    if enc.subject_end >= T and settings.extra_tokens:
        raise ValueError(f"no token after the subject to corrupt in {enc.text!r}")
    end = min(T, enc.subject_end + max(0, settings.extra_tokens))
    positions = list(range(enc.subject_start, end))
    input_ids = torch.tensor([enc.input_ids], device=lm.device)
    hidden = lm.module("embed").weight.shape[1]
    noise = sample_noise(rule, stats, settings.samples, len(positions), hidden, settings.seed, dtype=lm.dtype,
                         chi2=settings.chi2_draws)
    logits, states = record_states(lm, input_ids)
    probs = torch.softmax(logits.float(), -1)[0]
    answer_id = answer_token(lm.tokenizer, expected, enc.text) if expected else int(probs.argmax())
    clean = {k: v[0] for k, v in states.items()}
    return PreparedPrompt(lm, enc, input_ids, positions, rule, stats, noise, settings, answer_id,
                          float(probs[answer_id]), int(probs.argmax()), clean)
