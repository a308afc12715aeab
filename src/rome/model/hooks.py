"""Context-managed forward hooks and exact weight restoration.

* :class:`Trace` / :class:`TraceDict` read or replace the input or output of modules
  during a forward pass, and can stop the pass right after a module. They always remove
  their hooks on exit, also when the body raises.
* :func:`preserve_weights` snapshots parameters and restores them bit for bit.

Modules in Hugging Face models return either a tensor or a tuple whose first element is
the hidden state; the hooks hand the *primary tensor* to callbacks and put the returned
tensor back in the same structure.
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

import torch

from .architectures import get_module, get_parameter

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

EditFn = Callable[[torch.Tensor, str], torch.Tensor]


class StopForward(Exception):
    """Raised inside a hook to end a forward pass early; swallowed by the Trace that raised it."""


def primary(x: Any) -> torch.Tensor:
    """The hidden-state tensor of a module's output (first element of a tuple)."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        return x[0]
    raise TypeError(f"cannot find a tensor in a module output of type {type(x).__name__}")


def with_primary(x: Any, new: torch.Tensor) -> Any:
    """``x`` with its primary tensor replaced by ``new``."""
    if isinstance(x, torch.Tensor):
        return new
    if isinstance(x, tuple):
        return (new,) + tuple(x[1:])
    if isinstance(x, list):
        return [new] + list(x[1:])
    raise TypeError(f"cannot replace the tensor in a module output of type {type(x).__name__}")


def mark_rome_hook(fn: Any) -> None:
    """Tag ``fn`` as one of this package's hooks (so leftover hooks can be counted)."""
    fn._rome_hook = True


def _keep(t: torch.Tensor, clone: bool, detach: bool) -> torch.Tensor:
    if detach:
        t = t.detach()
    if clone:
        t = t.clone()
    return t


class TraceOptions(TypedDict, total=False):
    """:class:`Trace`'s keywords other than ``stop``; :class:`TraceDict` passes them to each of its traces."""

    retain_output: bool
    retain_input: bool
    edit_output: EditFn | None
    edit_input: EditFn | None
    clone: bool
    detach: bool


class _Hooks(contextlib.AbstractContextManager):
    """What :class:`Trace` and :class:`TraceDict` share as context managers: ``close()``
    removes the hooks on exit, also when the body raises; the :class:`StopForward` that
    ``stop=True`` raises ends the ``with`` body and is swallowed."""

    _stop: bool = False

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close()
        return self._stop and exc_type is not None and issubclass(exc_type, StopForward)


class Trace(_Hooks):
    """Hook one module by name.

    Args:
        retain_output / retain_input: keep the module's (primary) output / first input in
            ``.output`` / ``.input``.
        edit_output: ``fn(tensor, name) -> tensor`` replacing the primary output.
        edit_input: ``fn(tensor, name) -> tensor`` replacing the first positional input.
        stop: raise :class:`StopForward` after this module ran (the pass ends here).
        clone / detach: copy / detach what is retained.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        name: str,
        *,
        retain_output: bool = True,
        retain_input: bool = False,
        edit_output: EditFn | None = None,
        edit_input: EditFn | None = None,
        stop: bool = False,
        clone: bool = False,
        detach: bool = False,
    ) -> None:
        self.name = name
        self.module = get_module(model, name)
        self.output: torch.Tensor | None = None
        self.input: torch.Tensor | None = None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._stop = stop

        if retain_input or edit_input is not None:
            def pre_hook(module, args, kwargs):
                if args:
                    x = args[0]
                    if edit_input is not None:
                        x = edit_input(x, name)
                        args = (x,) + tuple(args[1:])
                    if retain_input:
                        self.input = _keep(x, clone, detach)
                    return args, kwargs
                key = next((k for k in ("hidden_states", "input", "x") if k in kwargs), None)
                if key is None:
                    raise RuntimeError(f"cannot find the input tensor of {name}")
                x = kwargs[key]
                if edit_input is not None:
                    x = edit_input(x, name)
                    kwargs = dict(kwargs, **{key: x})
                if retain_input:
                    self.input = _keep(x, clone, detach)
                return args, kwargs

            mark_rome_hook(pre_hook)
            self._handles.append(self.module.register_forward_pre_hook(pre_hook, with_kwargs=True))

        def hook(module, args, output):
            result = output
            if edit_output is not None:
                result = with_primary(output, edit_output(primary(output), name))
            if retain_output:
                self.output = _keep(primary(result), clone, detach)
            if stop:
                raise StopForward(name)
            return result if edit_output is not None else None

        mark_rome_hook(hook)
        if retain_output or edit_output is not None or stop:
            self._handles.append(self.module.register_forward_hook(hook))

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


class TraceDict(OrderedDict, _Hooks):
    """Hook several modules at once; ``td[name]`` is the :class:`Trace` of ``name``.

    The keywords (:class:`TraceOptions`) are :class:`Trace`'s, with its defaults, applied
    to every module. ``stop=True`` stops the forward pass after the *last* listed module
    to run (the caller lists the modules in execution order, as layer numbers give).
    """

    def __init__(
        self, model: torch.nn.Module, names: Iterable[str], *, stop: bool = False, **options: Unpack[TraceOptions],
    ) -> None:
        super().__init__()
        unknown = sorted(set(options) - set(TraceOptions.__annotations__))
        if unknown:
            raise TypeError(f"TraceDict() got unexpected keyword argument(s) {', '.join(unknown)}")
        names = list(dict.fromkeys(names))
        self._stop = stop
        try:
            for i, name in enumerate(names):
                self[name] = Trace(model, name, stop=stop and i == len(names) - 1, **options)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for t in self.values():
            t.close()


@contextlib.contextmanager
def stop_after(model: torch.nn.Module, name: str) -> Iterator[Trace]:
    """Run a forward pass only up to (and including) module ``name``."""
    with Trace(model, name, retain_output=True, stop=True) as t:
        yield t


def replace_positions(
    tensor: torch.Tensor, positions: Sequence[int] | torch.Tensor, values: torch.Tensor,
    rows: Sequence[int] | slice | None = None,
) -> torch.Tensor:
    """Return ``tensor`` (batch, seq, ...) with ``[rows, positions]`` set to ``values``.

    ``values`` broadcasts to ``tensor[rows][:, positions]``. The input is not modified.
    """
    out = tensor.clone()
    rows = slice(None) if rows is None else rows
    idx = torch.as_tensor(positions, dtype=torch.long, device=tensor.device)
    if isinstance(rows, slice):
        out[rows, idx] = values.to(out.dtype)
    else:
        r = torch.as_tensor(rows, dtype=torch.long, device=tensor.device)
        out[r[:, None], idx[None, :]] = values.to(out.dtype)
    return out


def count_hooks(model: torch.nn.Module) -> int:
    """Number of this package's forward (pre-)hooks still attached anywhere in ``model``.

    Hooks that transformers itself installs are not counted.
    """
    n = 0
    for m in model.modules():
        for h in list(m._forward_hooks.values()) + list(m._forward_pre_hooks.values()):
            n += bool(getattr(h, "_rome_hook", False))
    return n


# -- weights -------------------------------------------------------------------------

def snapshot_weights(model: torch.nn.Module, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """Exact copies of the named parameters."""
    return {n: get_parameter(model, n).detach().clone() for n in names}


def restore_weights(model: torch.nn.Module, snapshot: Mapping[str, torch.Tensor]) -> None:
    """Write a snapshot back, bit for bit."""
    with torch.no_grad():
        for n, w in snapshot.items():
            get_parameter(model, n).copy_(w)


@contextlib.contextmanager
def preserve_weights(model: torch.nn.Module, names: Iterable[str] | None = None) -> Iterator[dict]:
    """Restore the named parameters (all when ``names`` is None) on exit, bit for bit."""
    names = [n for n, _ in model.named_parameters()] if names is None else list(names)
    snap = snapshot_weights(model, names)
    try:
        yield snap
    finally:
        restore_weights(model, snap)
