"""DeepASA, SoundCompass and baselines in PyTorch.

``create(name, config="paper"|"tiny"|path|mapping)`` builds a registered system,
``available()`` lists the names, ``load(path)`` rebuilds a model from a checkpoint alone.
"""

from .checkpoint import load, save
from .registry import available, create, register

# importing the systems fills the registry
from .systems import deepasa as _deepasa  # noqa: F401
from .systems import soundcompass as _soundcompass  # noqa: F401

__all__ = ["create", "available", "load", "save", "register"]
