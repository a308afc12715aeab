"""The one interface every editing method implements.

An :class:`EditRequest` says what to change; an editor's ``apply`` changes the model's
weights in place and returns an :class:`EditResult` that records which parameters it
changed and keeps their originals, so ``result.restore(model)`` puts every bit back.
Several edits can be applied in sequence and undone in reverse order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import torch

from counterfact.errors import BadInputError

from ..hooks import restore_weights, snapshot_weights


class EditRequestError(BadInputError, ValueError):
    """An edit request that cannot be carried out (named field and reason)."""


@dataclass(frozen=True)
class EditRequest:
    """Rewrite ``(subject, relation prompt) -> target_new``.

    ``prompt`` contains ``{}`` exactly once, where the subject goes, and ends where the
    object would begin. ``target_true`` is optional (used by some methods and by
    evaluation). Targets are given without a leading space; methods add it.
    """

    prompt: str
    subject: str
    target_new: str
    target_true: str | None = None
    case_id: int | None = None

    def __post_init__(self) -> None:
        where = f" (case {self.case_id})" if self.case_id is not None else ""
        if not isinstance(self.prompt, str) or self.prompt.count("{}") != 1:
            raise EditRequestError(f"edit request{where}: field 'prompt' must contain '{{}}' exactly once, got {self.prompt!r}")
        if not isinstance(self.subject, str) or not self.subject.strip():
            raise EditRequestError(f"edit request{where}: field 'subject' is empty")
        if not isinstance(self.target_new, str) or not self.target_new.strip():
            raise EditRequestError(f"edit request{where}: field 'target_new' is empty")

    @property
    def text(self) -> str:
        return self.prompt.replace("{}", self.subject)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "EditRequest":
        """From a COUNTERFACT (or converted zsRE) record's ``requested_rewrite``."""
        try:
            rw = record["requested_rewrite"]
            return cls(
                prompt=rw["prompt"], subject=rw["subject"],
                target_new=rw["target_new"]["str"],
                target_true=(rw.get("target_true") or {}).get("str"),
                case_id=record.get("case_id"),
            )
        except KeyError as err:
            raise EditRequestError(
                f"record {record.get('case_id', '?')}: missing field {err.args[0]!r} in requested_rewrite"
            ) from None


@dataclass
class EditResult:
    """What an edit changed: parameter names, their original values, and method details."""

    method: str
    originals: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> list[str]:
        return list(self.originals)

    def restore(self, model: torch.nn.Module) -> None:
        """Put the original weights back, bit for bit."""
        restore_weights(model, self.originals)

    def deltas(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        params = dict(model.named_parameters())
        return {n: (params[n].detach() - w) for n, w in self.originals.items()}


def begin_edit(model: torch.nn.Module, names: Sequence[str], method: str) -> EditResult:
    """Snapshot the parameters an edit is about to change."""
    return EditResult(method=method, originals=snapshot_weights(model, names))


@runtime_checkable
class Editor(Protocol):
    """An editing method. ``apply`` edits ``lm.model`` in place and returns the record."""

    name: str

    def apply(self, lm, requests: Sequence[EditRequest]) -> EditResult:  # pragma: no cover
        ...


def restore_all(model: torch.nn.Module, results: Sequence[EditResult]) -> None:
    """Undo a sequence of edits (in reverse order)."""
    for r in reversed(list(results)):
        r.restore(model)
