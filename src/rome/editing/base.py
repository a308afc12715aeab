"""The one interface every editing method implements.

An :class:`EditRequest` says what to change; an editor's ``apply`` changes the model's
weights in place and returns an :class:`EditResult` that records which parameters it
changed and keeps their originals, so ``result.restore(model)`` puts every bit back.
Several edits can be applied in sequence and undone in reverse order.

Edits are all-or-nothing: every editor's ``apply`` is wrapped by :func:`all_or_nothing`,
which checks that each request fits the model's context before anything changes and, when
``apply`` raises part-way, writes back the originals of every parameter the edit had
declared through :func:`begin_edit` (bit for bit) before the error propagates.
"""
from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from counterfact.errors import BadInputError

from ..model.hooks import restore_weights, snapshot_weights
from ..model.tokens import ContextLengthError, check_fits_context


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
    def from_record(cls, record: Mapping[str, Any]) -> EditRequest:
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
    # for editors that keep state across edits (AlphaEdit's accumulated keys): puts the
    # editor's state back to before this edit; called by restore after the weights
    undo: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> list[str]:
        return list(self.originals)

    def restore(self, model: torch.nn.Module) -> None:
        """Put the original weights back, bit for bit (and the editor's state, see ``undo``)."""
        restore_weights(model, self.originals)
        if self.undo is not None:
            self.undo()

    def deltas(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        params = dict(model.named_parameters())
        return {n: (params[n].detach() - w) for n, w in self.originals.items()}


# The edits begun inside the innermost running ``apply`` (see all_or_nothing).
_OPEN_EDITS: contextvars.ContextVar[list | None] = contextvars.ContextVar("rome_open_edits", default=None)


def begin_edit(model: torch.nn.Module, names: Sequence[str], method: str) -> EditResult:
    """Snapshot the parameters an edit is about to change (before changing any of them).

    Inside an :func:`all_or_nothing` ``apply`` the snapshot is also registered, so a failure
    later in ``apply`` restores them.
    """
    result = EditResult(method=method, originals=snapshot_weights(model, names))
    opened = _OPEN_EDITS.get()
    if opened is not None:
        opened.append(result)
    return result


class PromptTooLongError(EditRequestError, ContextLengthError):
    """A request (prompt plus target) longer than the model's context."""


def _check_requests(lm, requests: list) -> None:
    for r in requests:
        if isinstance(r, EditRequest):
            where = f"record {r.case_id}" if r.case_id is not None else "edit request"
            check_fits_context(lm, f"{r.text} {r.target_new}", where, "requested_rewrite (prompt + target_new)",
                               error=PromptTooLongError)


def all_or_nothing(apply):
    """Decorator of an editor's ``apply(self, lm, requests, ...)``: ``apply`` receives the
    requests as a non-empty list (one :class:`EditRequest` becomes a list of one, none is an
    :class:`EditRequestError`), checked against the context length first; if ``apply``
    raises, every parameter snapshotted by :func:`begin_edit` during the call is restored
    (newest first) before re-raising."""
    @functools.wraps(apply)
    def wrapper(self, lm, requests, *args, **kwargs):
        requests = [requests] if isinstance(requests, EditRequest) else list(requests or [])
        if not requests:
            raise EditRequestError(f"{getattr(self, 'name', type(self).__name__)}: no edit requests")
        _check_requests(lm, requests)
        opened: list[EditResult] = []
        token = _OPEN_EDITS.set(opened)
        try:
            return apply(self, lm, requests, *args, **kwargs)
        except BaseException:
            for result in reversed(opened):
                result.restore(lm.model)
            raise
        finally:
            _OPEN_EDITS.reset(token)

    wrapper.all_or_nothing = True
    return wrapper


@runtime_checkable
class Editor(Protocol):
    """An editing method. ``apply`` edits ``lm.model`` in place and returns the record."""

    name: str

    def apply(self, lm, requests: Sequence[EditRequest]) -> EditResult:  # pragma: no cover
        ...


def apply_batch(editor, lm, requests: Sequence[EditRequest]) -> EditResult:
    """Apply one batch of requests with ``editor`` (the batch API, docs/memit.md): methods with
    ``batch_native`` (MEMIT, AlphaEdit) make one joint update, the others (ROME, r-ROME, ...)
    apply the requests one after the other; either way all-or-nothing, undone by
    ``result.restore(lm.model)``."""
    return editor.apply(lm, list(requests))


def restore_all(model: torch.nn.Module, results: Sequence[EditResult]) -> None:
    """Undo a sequence of edits (in reverse order)."""
    for r in reversed(list(results)):
        r.restore(model)
