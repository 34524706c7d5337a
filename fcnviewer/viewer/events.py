"""Events of the viewer's models: emitters, and properties declared once that validate and emit.

As in napari's ``EventedModel``: a property's setter validates the value, stores it, and only if
it changed runs the owner's follow-up (re-colouring) and emits the event of the property's name.
Nothing here knows Qt; widgets subscribe with plain callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, overload

import numpy as np

Callback = Callable[..., Any]
T = TypeVar("T")
#: ``validate(owner, name, value)`` -> the value to store, or raises ``ValueError`` / ``TypeError``.
Validator = Callable[[Any, str, Any], T]


class Emitter:
    """Callbacks called with the emitted value, in connection order."""

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []

    def connect(self, callback: Callback) -> None:
        """Call ``callback`` on every emission."""
        self._callbacks.append(callback)

    def disconnect(self, callback: Callback) -> None:
        """Stop calling ``callback``."""
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call every connected callback with ``args``."""
        for callback in list(self._callbacks):
            callback(*args)


class EmitterGroup:
    """Named emitters: ``group.visible.connect(...)``."""

    def __init__(self, *names: str) -> None:
        for name in names:
            setattr(self, name, Emitter())

    def __getattr__(self, name: str) -> Emitter:  # only reached for unknown names
        raise AttributeError(f"no event named {name!r}")


class Evented(Generic[T]):
    """A property stored as ``_<name>``: set, it validates; when the value changed it calls the
    owner's method named ``then`` (if any) and emits ``owner.events.<name>`` with the new value
    (unless ``emit`` is false: the follow-up announces the change itself).

    An unchanged value runs nothing and emits nothing.
    """

    def __init__(self, validate: Validator[T], *, then: str | None = None, emit: bool = True, doc: str = "") -> None:
        self.validate = validate
        self.then = then
        self.emit = emit
        self.__doc__ = doc
        self.name = self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.attr = name, f"_{name}"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Evented[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T | Evented[T]:
        return self if obj is None else getattr(obj, self.attr)

    def __set__(self, obj: Any, value: Any) -> None:
        value = self.validate(obj, self.name, value)
        if value == getattr(obj, self.attr):
            return
        setattr(obj, self.attr, value)
        if self.then is not None:
            getattr(obj, self.then)()
        if self.emit:
            getattr(obj.events, self.name).emit(value)

    def initialize(self, obj: Any, value: Any) -> None:
        """Store the first, validated value (in ``__init__``: nothing to compare, nobody to tell)."""
        setattr(obj, self.attr, self.validate(obj, self.name, value))


def initialize(obj: Any, **values: Any) -> None:
    """Give ``obj``'s evented properties their first values."""
    for name, value in values.items():
        getattr(type(obj), name).initialize(obj, value)


# ---------------------------------------------------------------------- validators


def as_bool(_: object, name: str, value: Any) -> bool:
    """A real bool (numpy's too), not anything truthy."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return bool(value)


def as_fraction(_: object, name: str, value: Any) -> float:
    """A float from 0 to 1."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {value}")
    return value


def as_class_set(_: object, __: str, value: Any) -> frozenset[int]:
    """A frozen set of class indices."""
    return frozenset(int(v) for v in value)


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def one_of(choices: Sequence[str]) -> Validator[str]:
    """A validator accepting one of ``choices``."""
    return lambda _, name, value: check_choice(name, value, choices)
