"""DeepASA, SoundCompass and baselines in PyTorch.

``create(name, config="paper"|"tiny"|path|mapping)`` builds a registered system,
``available()`` lists the names, ``load(path)`` rebuilds a model from a checkpoint alone.
"""

from asabench.models.checkpoint import load, save
from asabench.models.registry import available, create, register

# importing the systems fills the registry
from asabench.models.systems import deepasa as _deepasa  # noqa: F401
from asabench.models.systems import soundcompass as _soundcompass  # noqa: F401
from asabench.models.systems import dsenet as _dsenet  # noqa: F401
from asabench.models.systems import ssdq as _ssdq  # noqa: F401
from asabench.models.systems import seldnet as _seldnet  # noqa: F401
from asabench.models.systems import deft_mamba as _deft_mamba  # noqa: F401

__all__ = ["create", "available", "load", "save", "register"]
