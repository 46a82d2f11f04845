"""Task families: parametric Gymnasium envs with batched reward/termination functions.

Importing this package registers every ``dynadapt/<Name>-v0`` env with Gymnasium and every family with
:func:`get_family`.
"""

from dynadapt.envs.family import Param, TaskFamily
from dynadapt.envs.registry import family_names, get_family, register_family

__all__ = ["Param", "TaskFamily", "family_names", "get_family", "register_family"]
