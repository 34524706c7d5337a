"""The layers in drawing order."""

from __future__ import annotations

from collections.abc import Iterator

from fcnviewer.viewer.events import EmitterGroup
from fcnviewer.viewer.layers.base import Layer
from fcnviewer.viewer.layers.labels import ImageLayer


class LayerList:
    """Layers in drawing order (index 0 at the bottom).

    Events: ``inserted`` (index, layer), ``removed`` (index, layer), ``moved`` (old, new index).
    """

    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self.events = EmitterGroup("inserted", "removed", "moved")
        self._before_solo: dict[str, bool] | None = None

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for layer in self._layers:
                if layer.name == key:
                    return layer
            raise KeyError(key)
        return self._layers[key]

    def __contains__(self, name: object) -> bool:
        return any(layer.name == name for layer in self._layers)

    def index(self, layer: Layer) -> int:
        """Position of ``layer``."""
        return self._layers.index(layer)

    def append(self, layer: Layer) -> None:
        """Add ``layer`` on top."""
        self.insert(len(self._layers), layer)

    def insert(self, index: int, layer: Layer) -> None:
        """Add ``layer`` at ``index``; names are unique."""
        if layer.name in self:
            raise ValueError(f"a layer named {layer.name!r} exists already")
        index = max(0, min(index, len(self._layers)))
        self._layers.insert(index, layer)
        self.events.inserted.emit(index, layer)

    def remove(self, layer: Layer) -> None:
        """Take ``layer`` out."""
        index = self._layers.index(layer)
        del self._layers[index]
        self.events.removed.emit(index, layer)

    def move(self, src: int, dst: int) -> None:
        """Move the layer at ``src`` to ``dst``."""
        if not (0 <= src < len(self._layers) and 0 <= dst < len(self._layers)):
            raise IndexError(f"cannot move layer {src} to {dst} in a list of {len(self._layers)}")
        if src != dst:
            self._layers.insert(dst, self._layers.pop(src))
            self.events.moved.emit(src, dst)

    def toggle_solo(self, layer: Layer) -> None:
        """Show only ``layer`` (and the image under it); called again, restore what was shown."""
        if self._before_solo is not None:
            before, self._before_solo = self._before_solo, None
            for other in self._layers:
                other.visible = before.get(other.name, other.visible)
            return
        self._before_solo = {other.name: other.visible for other in self._layers}
        for other in self._layers:
            other.visible = other is layer or isinstance(other, ImageLayer)
