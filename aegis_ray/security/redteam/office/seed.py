"""The state every office run starts from: `seed_state(seed)`.

Everything a task or a label names is fixed; the seed only varies everyday noise no task refers
to (card payments), so a different seed is a different-looking account with the same ground
truth. The default seed 0 is the one the frozen split was made with.
"""

from __future__ import annotations

from aegis_ray.security.redteam.office.seed_assets import bank, drive, profile, travel, web
from aegis_ray.security.redteam.office.seed_comms import calendar, chat, mailbox
from aegis_ray.security.redteam.office.state import OfficeState


def seed_state(seed: int = 0) -> OfficeState:
    return OfficeState(mail=mailbox(), calendar=calendar(), drive=drive(), bank=bank(seed), chat=chat(),
                       travel=travel(), profile=profile(), web=web())
