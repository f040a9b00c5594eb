"""The control plane: the kill switch every entry point obeys (`switch`).

Names load on first use (`aegis_ray.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aegis_ray.lazy import lazy_exports

if TYPE_CHECKING:
    from aegis_ray.control.switch import KillSwitch, StoppedError, SwitchState, read_switch, set_switch

__all__ = ["KillSwitch", "StoppedError", "SwitchState", "read_switch", "set_switch"]

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "switch"))
