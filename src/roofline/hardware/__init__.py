"""Hardware registry: typed specs, measured-ceiling overlays, lookup by name/alias, detection."""

from roofline.hardware.registry import Registry, load_registry, normalize_name, resolve_roofs
from roofline.hardware.spec import CeilingsOverlay, HardwareSpec, Roof, Roofs, roofs_from_spec

__all__ = [
    "CeilingsOverlay",
    "HardwareSpec",
    "Registry",
    "Roof",
    "Roofs",
    "load_registry",
    "normalize_name",
    "resolve_roofs",
    "roofs_from_spec",
]
