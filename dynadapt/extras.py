"""The optional extras of dynadapt and the check that one is installed, made before anything needs it.

``pip install 'dynadapt[NAME]'`` installs extra NAME. Code that needs one calls :func:`require` first (a
config that asks for it, in its validation: before a run directory is written) and imports the packages
where it uses them, so that nobody pays for an extra they do not use.
"""

from __future__ import annotations

import importlib.util

from dynadapt.errors import DynadaptError

EXTRAS: dict[str, tuple[str, ...]] = {
    "video": ("imageio", "imageio_ffmpeg"),
    "tensorboard": ("tensorboard",),
    "wandb": ("wandb",),
    "robosuite": ("robosuite",),
}
"""Extra name -> the modules it provides."""


def require(extra: str, what: str) -> None:
    """Raise a :class:`DynadaptError` that names the install command when a module of ``extra`` cannot be
    imported (checked without importing it); ``what`` is what needs it, e.g. ``"logger=tensorboard"``."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        names = " ".join(m.replace("_", "-") for m in missing)
        raise DynadaptError(f"{what} needs {names}: pip install 'dynadapt[{extra}]' (or pip install {names})")
