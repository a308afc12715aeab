"""Hyperparameters of editing methods, one YAML file per (method, model).

Files live in ``src/rome/hparams/<method>/<model>.yaml``. Model names are normalised
(:func:`normalise_model_name`): ``"EleutherAI/gpt-j-6B"`` -> ``"gpt-j-6b"``, the embedded
Gemma and its converted folder -> ``"gemma-3-270m"``, tiny random test models
(``"tiny-gpt2"``, ``"tiny-gemma3"``, ...) -> ``"tiny"``.

    >>> hp = load_hparams("rome", "gpt2-xl", {"v_steps": 10})
    >>> hp.v_steps, hp.layer
    (10, 17)

Each method has a frozen dataclass of its settings (:data:`HPARAMS_CLASSES`: field,
type, default and a one-line meaning each, see :meth:`Hparams.describe`). A YAML file
holds any subset of the fields (the rest take their defaults); a key that is not a field,
in the file or in ``--set``, is an error naming the valid ones.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from counterfact.errors import BadInputError

HPARAMS_DIR = Path(__file__).resolve().parents[1] / "hparams"

# Names that mean the same model (after lower-casing and dropping an owner prefix).
_ALIASES = {
    "gemma3-270m": "gemma-3-270m",
    "embedded:gemma-3-270m": "gemma-3-270m",
}


class HparamsError(BadInputError, ValueError):
    """A hyperparameter file is missing, malformed, or an override names an unknown key."""


# -- typed hyperparameters ------------------------------------------------------------------


def _setting(default: Any = MISSING, meaning: str = "", *, factory: Any = MISSING) -> Any:
    """A dataclass field with its one-line meaning (``metadata["help"]``)."""
    if factory is not MISSING:
        return field(default_factory=factory, metadata={"help": meaning})
    if default is MISSING:
        return field(metadata={"help": meaning})
    return field(default=default, metadata={"help": meaning})


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    """An int or a float (a bool is neither here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return _is_real(v) and v == v and abs(v) != float("inf")


# the values a scalar field type accepts (an int where a float is wanted is converted)
_SCALARS: dict[Any, Any] = {
    bool: lambda v: isinstance(v, bool),
    int: _is_int,
    float: _is_real,
    str: lambda v: isinstance(v, str),
}


def _check_value(name: str, value: Any, tp: Any) -> Any:
    """``value`` converted to ``tp`` (int -> float where a float is wanted), or TypeError."""
    origin = get_origin(tp)
    if origin in (Union, UnionType):
        for option in get_args(tp):
            try:
                return _check_value(name, value, option)
            except TypeError:
                continue
        raise TypeError(_type_name(tp))
    if tp is type(None):
        if value is None:
            return None
        raise TypeError("None")
    if tp is Any:
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError(_type_name(tp))
        (inner,) = get_args(tp)[:1] or (Any,)
        return [_check_value(name, v, inner) for v in value]
    if tp in (list, tuple):
        if isinstance(value, (list, tuple)):
            return list(value)
        raise TypeError("list")
    if tp in _SCALARS:
        if _SCALARS[tp](value):
            return float(value) if tp is float else value
        raise TypeError(tp.__name__)
    raise TypeError(_type_name(tp))


_H = TypeVar("_H", bound="Hparams")


@dataclass(frozen=True)
class Hparams(Mapping):
    """Base of the per-method hyperparameter classes.

    Settings are read as attributes (``hp.layer``). The read-only mapping view
    (``hp["layer"]``, ``dict(hp)``) exists so results and cache keys can record the
    settings as plain data; it holds exactly the dataclass fields.
    """

    method: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                checked = _check_value(f.name, value, hints[f.name])
            except TypeError:
                raise HparamsError(
                    f"{self._where()}: {self.method} hyperparameter {f.name!r} must be "
                    f"{_type_name(hints[f.name])}, got {value!r}"
                ) from None
            object.__setattr__(self, f.name, checked)
        for f in fields(self):  # numeric ranges (same rules as load_hparams' check_values)
            rule = range_rule(f.name, getattr(self, f.name), self.method)
            if rule is not None:
                raise HparamsError(
                    f"{self._where()}: {self.method} hyperparameter {f.name!r} must be {rule}, "
                    f"got {getattr(self, f.name)!r}"
                )
        self.validate()

    def validate(self) -> None:
        """Checks across fields (subclasses add theirs); raise :class:`HparamsError`."""

    def _where(self) -> str:
        return getattr(self, "_source", None) or f"{self.method} hyperparameters"

    @property
    def source(self) -> str | None:
        """The YAML file these settings came from (None when built in code)."""
        return getattr(self, "_source", None)

    # -- construction
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """``(name, type, default, meaning)`` of every setting, in declaration order."""
        hints = get_type_hints(cls)
        out = []
        for f in fields(cls):
            if f.default is not MISSING:
                default = f.default
            elif f.default_factory is not MISSING:
                default = f.default_factory()
            else:
                default = "(required)"
            out.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
        return out

    @classmethod
    def from_mapping(cls: type[_H], data: Mapping[str, Any], *, source: str | None = None) -> _H:
        """Settings from a mapping; unknown or missing keys raise :class:`HparamsError` naming the valid ones."""
        where = source or f"{cls.method} hyperparameters"
        names = cls.field_names()
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise HparamsError(
                f"{where}: {', '.join(repr(k) for k in unknown)} "
                f"{'is not a hyperparameter' if len(unknown) == 1 else 'are not hyperparameters'} "
                f"of {cls.method}; valid: {', '.join(names)}"
            )
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in data]
        if missing:
            raise HparamsError(f"{where}: missing {cls.method} hyperparameter(s) {', '.join(missing)}")
        obj = cls.__new__(cls)
        object.__setattr__(obj, "_source", source)
        obj.__init__(**dict(data))  # type: ignore[misc]
        return obj

    @classmethod
    def coerce(cls: type[_H], value: Hparams | Mapping[str, Any]) -> _H:
        """``value`` if it already is a ``cls``, else ``cls`` built from the mapping."""
        if isinstance(value, cls):
            return value
        return cls.from_mapping(dict(value), source=getattr(value, "source", None))

    def with_changes(self: _H, **changes: Any) -> _H:
        """A copy with ``changes`` applied (checked like the YAML values)."""
        return type(self).from_mapping({**self.as_dict(), **changes}, source=self.source)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    # -- read-only mapping view
    def __getitem__(self, key: str) -> Any:
        if key not in self.field_names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.field_names())

    def __len__(self) -> int:
        return len(fields(self))


def _check_value_settings(hp: Any) -> None:
    """The choices of the v*/z* optimisation and its templates (ROME and MEMIT alike)."""
    if hp.kl_direction not in ("edited_original", "original_edited"):
        raise HparamsError(f"{hp._where()}: kl_direction must be 'edited_original' or 'original_edited', "
                           f"got {hp.kl_direction!r}")
    if hp.context_template_mode not in ("official", "new_tokens"):
        raise HparamsError(f"{hp._where()}: context_template_mode must be 'official' or 'new_tokens', "
                           f"got {hp.context_template_mode!r}")


@dataclass(frozen=True)
class ROMEHparams(Hparams):
    """ROME (paper section 3; official code ``rome/rome_hparams.py``)."""

    method: ClassVar[str] = "rome"
    layer: int = _setting(meaning="edited layer l* (0-indexed), whose MLP output projection gets the rank-one insert")
    context_templates: list = _setting(factory=lambda: [[5, 10], [10, 10]],
                                       meaning="[length, count] pairs of sampled prefix texts used as '<text>. {}'")
    context_top_k: int = _setting(5, "top-k of the sampling of context-template texts")
    context_seed: int = _setting(0, "seed of the context-template sampling")
    context_template_mode: str = _setting(
        "official", "official: a length counts the start token (4 and 9 new tokens), leading space kept; "
        "new_tokens: the paper text's reading (5 and 10 new tokens, stripped)")
    token: str = _setting("last_subject", "where keys/values are read: last_subject, first_subject, first_subsequent, last")
    v_lr: float = _setting(0.5, "Adam learning rate of the v* optimisation")
    v_steps: int = _setting(20, "maximum steps of the v* optimisation")
    v_loss_stop: float = _setting(0.05, "stop the v* optimisation once the total loss is below this")
    kl_factor: float = _setting(0.0625, "weight of the essence-drift KL term")
    kl_direction: str = _setting(
        "edited_original", "edited_original: D_KL(P_edited || P_orig) as the paper's Eq. 4 and the official code; "
        "original_edited: the reverse (reproduces this package's results before the fix)")
    v_weight_decay: float = _setting(0.5, "weight of the ||delta|| / ||v_init||^2 decay term")
    clamp_norm_factor: float = _setting(4.0, "||delta|| is clamped to this times ||v_init||")
    kl_prompts: list[str] = _setting(factory=lambda: ["{} is a"], meaning="prompts of the essence-drift KL term")
    key_for_insert: str = _setting("prompt", "k0 of the insert: 'prompt' (un-prefixed prompt's key) or 'mean' (k*)")
    v_suffix_pass: bool = _setting(True, "optimise v* over only the positions and layers delta can change")
    mom2_corpus: str | None = _setting(None, "corpus of the key statistics C: a name or a text file (None: the local WikiText-2)")
    mom2_samples: int | None = _setting(None, "document budget of the statistics (None: no cap)")
    mom2_tokens: int | None = _setting(None, "token budget of the statistics (None: no cap)")
    mom2_dtype: str = _setting("float32", "accumulation dtype of C")
    mom2_max_length: int = _setting(512, "sequences are cut at this many tokens for the statistics")

    def validate(self) -> None:
        _check_value_settings(self)
        if self.key_for_insert not in ("prompt", "mean"):
            raise HparamsError(f"{self._where()}: key_for_insert must be 'prompt' or 'mean', got {self.key_for_insert!r}")
        for pair in self.context_templates:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) for x in pair)):
                raise HparamsError(f"{self._where()}: context_templates entries must be [length, count], got {pair!r}")


@dataclass(frozen=True)
class RROMEHparams(ROMEHparams):
    """r-ROME (Gupta et al. 2024, scalable-model-editing/rebuilding-rome): ROME with the
    template-averaged k* also as the insert's key (``key_for_insert: mean``)."""

    method: ClassVar[str] = "r-rome"
    key_for_insert: str = _setting("mean", "k0 of the insert: 'mean' (k*, r-ROME) or 'prompt' (plain ROME)")


MEMIT_START_WORDS = ["The", "Therefore", "Because", "I", "You"]


@dataclass(frozen=True)
class MEMITHparams(Hparams):
    """MEMIT (Meng et al. 2023; official ``memit/memit_hparams.py``, ``hparams/MEMIT/*.json``)."""

    method: ClassVar[str] = "memit"
    layers: list[int] = _setting(meaning="edited layers R, ascending; z* is optimised at the last one's block output")
    mom2_update_weight: float = _setting(15000.0, "lambda of the update W += R K^T (lambda C + K K^T)^-1")
    context_templates: list = _setting(factory=lambda: [[10, 5]],
                                       meaning="[length, count] of sampled prefixes; count is split over context_starts")
    context_starts: list[str] = _setting(factory=lambda: list(MEMIT_START_WORDS),
                                         meaning="words the prefix texts start from (official get_context_templates); "
                                                 "[] = the model's start token as ROME")
    context_top_k: int = _setting(5, "top-k of the prefix sampling")
    context_seed: int = _setting(0, "seed of the prefix sampling")
    context_template_mode: str = _setting("official", "official or new_tokens (as ROME's setting of that name)")
    key_average: str = _setting("groups", "keys: 'groups' = mean of each template group's mean (official compute_ks) "
                                          "or 'flat' = mean over all templates (ROME's k*)")
    token: str = _setting("last_subject", "where keys and z* are read: last_subject (official subject_last), ...")
    v_lr: float = _setting(0.5, "Adam learning rate of the z* optimisation")
    v_steps: int = _setting(25, "maximum steps of the z* optimisation (official v_num_grad_steps)")
    v_loss_stop: float = _setting(0.05, "a request's z* optimisation stops once its loss is below this")
    kl_factor: float = _setting(0.0625, "weight of the KL term of z*")
    kl_direction: str = _setting("edited_original", "KL of z*: edited_original (official) or original_edited")
    v_weight_decay: float = _setting(0.5, "weight of ||delta|| / ||z_init||^2 in z*'s loss")
    clamp_norm_factor: float = _setting(0.75, "||delta|| of z* is clamped to this times ||z_init||")
    kl_prompts: list[str] = _setting(factory=lambda: ["{} is a"], meaning="prompts of z*'s KL term")
    v_suffix_pass: bool = _setting(True, "z*'s passes compute only the positions and layers delta can change")
    mom2_corpus: str | None = _setting(None, "corpus of C per layer (None: the local WikiText-2)")
    mom2_samples: int | None = _setting(None, "documents of C's corpus (None: all)")
    mom2_tokens: int | None = _setting(None, "tokens of C's corpus (None: all)")
    mom2_dtype: str = _setting("float32", "dtype C is accumulated in")
    mom2_max_length: int = _setting(512, "C's sequences are cut at this many tokens")

    def validate(self) -> None:
        if not self.layers or list(self.layers) != sorted(set(self.layers)):
            raise HparamsError(f"{self._where()}: layers must be a non-empty ascending list of distinct layers, "
                               f"got {self.layers!r}")
        if self.key_average not in ("groups", "flat"):
            raise HparamsError(f"{self._where()}: key_average must be 'groups' or 'flat', got {self.key_average!r}")
        _check_value_settings(self)
        starts = len(self.context_starts) or 1
        for pair in self.context_templates:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(x, int) for x in pair)
                    and pair[1] >= starts):
                raise HparamsError(f"{self._where()}: context_templates entries must be [length, count] with count "
                                   f"at least the number of context_starts ({starts}), got {pair!r}")


@dataclass(frozen=True)
class AlphaEditHparams(MEMITHparams):
    """AlphaEdit (Fang et al. 2025; official ``AlphaEdit/AlphaEdit_main.py``, ``hparams/AlphaEdit/*.json``):
    MEMIT's z* and keys, the update projected on the null space of C."""

    method: ClassVar[str] = "alphaedit"
    nullspace_threshold: float = _setting(2e-2, "P spans C's singular vectors whose singular value is below this")
    L2: float = _setting(10.0, "weight of the ||Delta||^2 term of the projected update")


@dataclass(frozen=True)
class FTHparams(Hparams):
    """FT: fine-tune one layer's MLP output weights on the new fact (paper appendix)."""

    method: ClassVar[str] = "ft"
    layer: int = _setting(meaning="fine-tuned layer (0-indexed)")
    lr: float = _setting(meaning="Adam learning rate")
    steps: int = _setting(meaning="maximum optimisation steps")
    epsilon: float | None = _setting(None, "L-infinity bound on the weight change (None: unconstrained)")
    early_stop_loss: float = _setting(1e-2, "stop once the loss is below this")
    weight_decay: float = _setting(0.0, "Adam weight decay")


@dataclass(frozen=True)
class FTLHparams(FTHparams):
    """FT+L: FT with an L-infinity bound on the weight change (Zhu et al.)."""

    method: ClassVar[str] = "ft-l"


@dataclass(frozen=True)
class AttnEditHparams(FTHparams):
    """AttnEdit: FT+L on one layer's attention query/key/value weights."""

    method: ClassVar[str] = "attn"


@dataclass(frozen=True)
class KNHparams(Hparams):
    """KN: knowledge neurons (Dai et al.)."""

    method: ClassVar[str] = "kn"
    layers: str | list[int] = _setting("all", "attributed layers: 'all' or a selection such as '9-17' or [3, 4]")
    steps: int = _setting(20, "integrated-gradients steps")
    threshold: float = _setting(0.2, "keep neurons above this times the prompt's maximum attribution")
    refine_share: float = _setting(0.4, "keep neurons selected for at least this share of the prompts")
    edit_scale: float = _setting(2.0, "factor applied to the selected neurons' value vectors")
    max_neurons: int | None = _setting(None, "cap on the number of edited neurons (None: no cap)")


@dataclass(frozen=True)
class _HypernetHparams(Hparams):
    layers: str | list[int] = _setting("last:3", "edited MLP output projections ('last:N' = the last N layers, or a list)")
    init_lr: float = _setting(1e-3, "initial per-layer step size (learned)")
    train_lr: float = _setting(1e-3, "Adam learning rate of the hyper-network")
    lr_lr: float = _setting(0.02, "Adam learning rate of the learned step sizes (log scale)")
    kl_weight: float = _setting(1.0, "weight of the locality KL term")
    n_plain_examples: int = _setting(256, "generic corpus edits sampled for the 'plain' variant")
    checkpoint_every: int = _setting(25, "training steps between checkpoints")


@dataclass(frozen=True)
class KEHparams(_HypernetHparams):
    """KE: KnowledgeEditor hyper-network (De Cao et al.); also its trained variants ke-cf, ke-zsre."""

    method: ClassVar[str] = "ke"
    hidden: int = _setting(128, "width of each layer's conditioning MLP")


@dataclass(frozen=True)
class MENDHparams(_HypernetHparams):
    """MEND: gradient-decomposition hyper-network (Mitchell et al.); also mend-cf, mend-zsre."""

    method: ClassVar[str] = "mend"
    rank: int = _setting(64, "rank of each layer's residual MLP")
    init_lr: float = _setting(1e-4, "initial per-layer step size (learned)")


#: hyperparameter class of each method folder (trained variants use their base method's).
HPARAMS_CLASSES: dict[str, type[Hparams]] = {
    cls.method: cls for cls in (ROMEHparams, RROMEHparams, MEMITHparams, AlphaEditHparams, FTHparams, FTLHparams, AttnEditHparams, KNHparams, KEHparams, MENDHparams)
}


def hparams_class(method: str) -> type[Hparams]:
    base = method.split("-cf")[0].split("-zsre")[0]
    try:
        return HPARAMS_CLASSES[base]
    except KeyError:
        raise HparamsError(
            f"no hyperparameter class for method {method!r}; known: {', '.join(HPARAMS_CLASSES)}"
        ) from None


def normalise_model_name(name: str) -> str:
    """The file stem used for ``name`` (see the module docstring)."""
    text = str(name).strip().rstrip("/")
    if text.lower() in _ALIASES:
        return _ALIASES[text.lower()]
    stem = text.replace("\\", "/").split("/")[-1].lower()
    if stem.startswith("tiny"):
        return "tiny"
    stem = _ALIASES.get(stem, stem)
    # the converted embedded Gemma lives in a folder "gemma-3-270m-<sha prefix>"
    if re.fullmatch(r"gemma-3-270m(-[0-9a-f]{8,})?", stem):
        return "gemma-3-270m"
    return stem


def available(method: str) -> list[str]:
    """Model names that have a hyperparameter file for ``method``."""
    folder = HPARAMS_DIR / method
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def hparams_path(method: str, model_name: str) -> Path:
    return HPARAMS_DIR / method / f"{normalise_model_name(model_name)}.yaml"


# Numeric hyperparameters and the values they may take (any method that has the key).
_POSITIVE_INT = ("v_steps", "context_top_k", "mom2_max_length", "hidden", "rank", "n_plain_examples",
                 "checkpoint_every")
_POSITIVE_INT_OR_NULL = ("mom2_tokens", "mom2_samples", "max_neurons")
_NONNEGATIVE_INT = ("layer", "context_seed")
_POSITIVE_FLOAT = ("v_lr", "lr", "train_lr", "init_lr", "lr_lr", "clamp_norm_factor", "nullspace_threshold")
_NONNEGATIVE_FLOAT = ("mom2_update_weight", "L2", "kl_factor", "v_weight_decay", "weight_decay", "kl_weight", "v_loss_stop", "early_stop_loss")


def range_rule(key: str, value: Any, method: str) -> str | None:
    """The rule ``value`` of hyperparameter ``key`` breaks (e.g. ``"a positive integer"``), or None."""
    if key in _POSITIVE_INT or (key == "steps" and method == "kn"):
        ok, rule = _is_int(value) and value >= 1, "a positive integer"
    elif key in _POSITIVE_INT_OR_NULL:
        ok, rule = value is None or (_is_int(value) and value >= 1), "a positive integer or null"
    elif key in _NONNEGATIVE_INT or key == "steps":
        ok, rule = _is_int(value) and value >= 0, "an integer >= 0"
    elif key in _POSITIVE_FLOAT:
        ok, rule = _is_number(value) and value > 0, "a positive number"
    elif key in _NONNEGATIVE_FLOAT:
        ok, rule = _is_number(value) and value >= 0, "a number >= 0"
    elif key == "epsilon":
        ok, rule = value is None or (_is_number(value) and value > 0), "a positive number or null"
    else:
        return None
    return None if ok else rule


def check_values(data: Mapping[str, Any], path: Path, overrides: Mapping[str, Any], method: str) -> None:
    """Refuse numeric hyperparameters out of their range (e.g. ``v_steps: 0``, which left ROME
    without an optimised value vector), naming the key and whether it came from ``--set``.
    The dataclasses apply the same rules (:meth:`Hparams.__post_init__`) to settings built in code."""
    for key, value in data.items():
        rule = range_rule(key, value, method)
        if rule is not None:
            where = f"--set {key}={overrides[key]!r}" if key in overrides else f"{path}"
            raise HparamsError(f"{where}: {method} hyperparameter {key!r} must be {rule}, got {value!r}")


def load_hparams(method: str, model_name: str, overrides: Mapping[str, Any] | None = None) -> Hparams:
    """The settings of ``hparams/<method>/<model>.yaml`` with ``overrides`` applied (fields only)."""
    path = hparams_path(method, model_name)
    if not path.is_file():
        methods = sorted(p.name for p in HPARAMS_DIR.iterdir() if p.is_dir()) if HPARAMS_DIR.is_dir() else []
        if method not in methods:
            raise HparamsError(
                f"no hyperparameters for method {method!r} (no folder {HPARAMS_DIR / method}); "
                f"methods with hyperparameter files: {', '.join(methods) or 'none'}"
            )
        raise HparamsError(
            f"no {method} hyperparameters for model {model_name!r} (looked for {path}); "
            f"available: {', '.join(available(method)) or 'none'}. Add a YAML file there "
            "or pass the name of a model that has one."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise HparamsError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise HparamsError(f"{path}: expected a mapping of hyperparameters, got {type(data).__name__}")
    cls = hparams_class(method)
    unknown = sorted(set(dict(overrides or {})) - set(cls.field_names()))
    if unknown:
        raise HparamsError(
            f"--set {', '.join(unknown)}: not a hyperparameter of {method} ({path}); "
            f"valid: {', '.join(cls.field_names())}"
        )
    check_values({**data, **dict(overrides or {})}, path, dict(overrides or {}), method)
    return cls.from_mapping({**data, **dict(overrides or {})}, source=str(path))
