"""The hardware registry: bundled ``hwspecs/*.yaml`` plus user files, resolved by name or alias."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from roofline.data import bundled_dir
from roofline.errors import InputError
from roofline.hardware.spec import CeilingsOverlay, HardwareSpec, Roofs, roofs_from_spec
from roofline.yamlio import load_yaml, validate

_VENDOR_WORDS = ("nvidia", "amd", "tesla", "geforce", "instinct", "radeon")


def normalize_name(name: str) -> str:
    """Fold a device name for lookup: case, punctuation and vendor words do not matter.

    ``NVIDIA H200`` → ``h200``; ``H100-SXM5-80GB`` → ``h100sxm580gb``.
    """
    words = re.findall(r"[a-z0-9]+", name.lower())
    while words and words[0] in _VENDOR_WORDS:
        words = words[1:]
    return "".join(words)


@dataclass
class Registry:
    specs: dict[str, HardwareSpec] = field(default_factory=dict)
    spec_files: dict[str, Path] = field(default_factory=dict)
    overlays: dict[str, list[tuple[Path, CeilingsOverlay]]] = field(default_factory=dict)
    _index: dict[str, str] = field(default_factory=dict)

    def add_spec(self, spec: HardwareSpec, path: Path, *, replace: bool = False) -> None:
        if spec.name in self.specs and not replace:
            raise InputError(
                f"spec '{spec.name}' is already defined in {self.spec_files[spec.name]}",
                file=path,
                place="name",
                fix="give the device a new name, or use --hw-file to override on purpose",
            )
        if spec.name in self.specs:
            old = self.specs[spec.name]
            for alias in [old.name, *old.aliases]:
                self._index.pop(normalize_name(alias), None)
        for alias in [spec.name, *spec.aliases]:
            key = normalize_name(alias)
            owner = self._index.get(key)
            if owner is not None and owner != spec.name and not replace:
                raise InputError(
                    f"alias '{alias}' already names '{owner}'",
                    file=path,
                    place="aliases",
                    fix="aliases must be unique across the registry",
                )
            self._index[key] = spec.name
        self.specs[spec.name] = spec
        self.spec_files[spec.name] = path

    def add_overlay(self, overlay: CeilingsOverlay, path: Path) -> None:
        self.overlays.setdefault(overlay.base, []).append((path, overlay))

    def names(self) -> list[str]:
        return sorted(self.specs)

    def lookup(self, name: str) -> HardwareSpec | None:
        key = self._index.get(normalize_name(name))
        return self.specs.get(key) if key else None

    def resolve(self, name: str) -> HardwareSpec:
        spec = self.lookup(name)
        if spec is not None:
            return spec
        raise InputError(
            f"unknown device '{name}'",
            place="--hw",
            fix=self.suggestion(name),
        )

    def suggestion(self, name: str) -> str:
        candidates: dict[str, str] = {}
        for spec in self.specs.values():
            for alias in [spec.name, *spec.aliases]:
                candidates.setdefault(normalize_name(alias), spec.name)
        close = difflib.get_close_matches(normalize_name(name), list(candidates), n=6, cutoff=0.5)
        names = list(dict.fromkeys(candidates[c] for c in close))[:3]
        if names:
            return "did you mean " + " or ".join(f"'{n}'" for n in names) + "? (roofline hw list shows all)"
        return "run 'roofline hw list' for known devices, or add one with --hw-file"

    def overlay_for(self, spec: HardwareSpec) -> tuple[Path, CeilingsOverlay] | None:
        """The newest bundled measured-ceilings overlay for a spec, if any."""
        found = self.overlays.get(spec.name, [])
        if not found:
            return None
        return max(found, key=lambda item: str(item[1].measured_on.get("date", "")))


def load_hw_file(path: Path) -> HardwareSpec | CeilingsOverlay:
    """Read one spec or ceilings-overlay YAML file, validated against its schema."""
    data, node = load_yaml(path, what="hardware spec")
    if not isinstance(data, dict):
        raise InputError("expected a mapping at the top level", file=path, fix="see docs/hardware.md")
    if data.get("kind") == "ceilings":
        return validate(CeilingsOverlay, data, path=path, node=node, what="ceilings overlay")
    return validate(HardwareSpec, data, path=path, node=node, what="hardware spec")


def _yaml_files(directory: Path) -> list[Path]:
    """The spec files of a directory tree. A symlink leading out of the tree is refused: giving
    --hw-dir DIR must not make the tool read files from elsewhere (docs/robustness.md)."""
    if not directory.is_dir():
        raise InputError("not a directory", file=directory, fix="give a directory of hardware spec YAML files")
    root = directory.resolve()
    files = sorted(p for p in directory.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    for path in files:
        try:
            target = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: RuntimeError up to Python 3.12
            raise InputError("is a symlink loop", file=path, place="--hw-dir", fix="remove the link") from None
        if not target.is_relative_to(root):
            raise InputError(f"is a symlink to {target}, outside the spec directory {directory}", file=path,
                             place="--hw-dir", fix="copy the file into the directory, or pass it with --hw-file")
        if not target.is_file():
            raise InputError("is not a regular file", file=path, place="--hw-dir",
                             fix="spec directories hold YAML files only")
    return files


@lru_cache(maxsize=16)
def _load(extra_dirs: tuple[Path, ...], extra_files: tuple[Path, ...]) -> Registry:
    registry = Registry()
    for path in _yaml_files(bundled_dir("hwspecs")):
        _add(registry, path, replace=False)
    for directory in extra_dirs:
        for path in _yaml_files(directory):
            _add(registry, path, replace=True)
    for path in extra_files:
        _add(registry, path, replace=True)
    return registry


def _add(registry: Registry, path: Path, *, replace: bool) -> None:
    item = load_hw_file(path)
    if isinstance(item, CeilingsOverlay):
        registry.add_overlay(item, path)
    else:
        registry.add_spec(item, path, replace=replace)


def load_registry(extra_dirs: Iterable[Path] = (), extra_files: Iterable[Path] = ()) -> Registry:
    """The bundled registry extended by user directories and files (later ones win)."""
    return _load(tuple(Path(p) for p in extra_dirs), tuple(Path(p) for p in extra_files))


def resolve_roofs(
    registry: Registry,
    name: str,
    *,
    ceilings: str | Path | None = None,
) -> tuple[HardwareSpec, Roofs, Path | None]:
    """Spec and roofs for ``name``; ``ceilings`` is ``measured`` (the bundled overlay), a path to
    an overlay file, or None for datasheet roofs. Returns the overlay file used, if any.
    """
    spec = registry.resolve(name)
    if ceilings is None:
        return spec, roofs_from_spec(spec), None
    if str(ceilings) == "measured":
        found = registry.overlay_for(spec)
        if found is None:
            raise InputError(
                f"no bundled measured ceilings for '{spec.name}'",
                place="--ceilings",
                fix="run 'roofline hw measure' on that GPU and pass its output file",
            )
        path, overlay = found
    else:
        path = Path(ceilings)
        item = load_hw_file(path)
        if not isinstance(item, CeilingsOverlay):
            raise InputError(
                "is a hardware spec, not a ceilings overlay",
                file=path,
                fix="pass a spec with --hw-file; --ceilings takes 'kind: ceilings' files",
            )
        overlay = item
    base = registry.lookup(overlay.base)
    if base is None:
        raise InputError(f"the overlay's base device '{overlay.base}' is not in the registry", file=path,
                         place="base", fix=registry.suggestion(overlay.base))
    if base.name != spec.name:
        raise InputError(
            f"ceilings were measured on '{base.name}', not '{spec.name}'",
            file=path,
            place="base",
            fix=f"use --hw {base.name} or ceilings measured on {spec.name}",
        )
    return spec, roofs_from_spec(spec, overlay), path
