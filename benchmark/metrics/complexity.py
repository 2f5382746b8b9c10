"""Model complexity: trainable/frozen parameter counts and multiply-accumulates per second of audio.

MACs are measured by running the model once under ``torch.utils.flop_counter.FlopCounterMode``
(MACs = FLOPs / 2: it counts matrix products, convolutions and the recurrent cells they
decompose into) plus explicit counts for what it does not see on this build:

* scaled-dot-product attention on the CPU (``aten._scaled_dot_product_flash_attention_for_cpu``
  has no FLOP formula): ``B * H * Lq * Lk * (E + Ev)`` MACs for ``QK^T`` and ``AV``;
* FFTs (``aten._fft_r2c``, ``_fft_c2r``, ``_fft_c2c``): ``2.5 n log2 n`` FLOPs per real
  transform of length ``n`` and ``5 n log2 n`` per complex one (radix-2 estimate), halved.

Not counted (listed in the result's caveats): element-wise operations (activations, norms,
the SSD scan's exponentials and masks, complex (de-)normalisation), pooling, and fused CUDA
kernels (mamba-ssm's Triton scan is invisible to the counter; on the CPU the pure-PyTorch
scan's ``einsum``s are ordinary matrix products and are counted).

A system whose ``forward`` needs more than the mixture defines
``example_inputs(n_samples) -> (args, kwargs)``; otherwise a ``[1, n_channels, n_samples]``
Gaussian mixture is used.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable

import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, flop_registry

__all__ = ["parameter_counts", "count_macs", "complexity", "torchinfo_mult_adds"]

_ATTN_CPU = "aten._scaled_dot_product_flash_attention_for_cpu"
_FFT = {"aten._fft_r2c": 2.5, "aten._fft_c2r": 2.5, "aten._fft_c2c": 5.0}
_REGISTERED = {str(k) for k in flop_registry}


def parameter_counts(module: nn.Module) -> dict[str, int]:
    """``{"trainable", "frozen", "total"}`` numbers of parameter elements (shared ones once)."""
    seen: set[int] = set()
    trainable = frozen = 0
    for p in module.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
    return {"trainable": trainable, "frozen": frozen, "total": trainable + frozen}


class _ExplicitCounter(TorchDispatchMode):
    """Counts MACs of ops FlopCounterMode has no formula for; lists other uncounted ops."""

    def __init__(self) -> None:
        super().__init__()
        self.macs: Counter[str] = Counter()
        self.uncounted: Counter[str] = Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        name = str(func.overloadpacket)
        if name == _ATTN_CPU and name not in _REGISTERED:
            q, k, v = args[:3]
            b_h = math.prod(q.shape[:-2])
            self.macs["attention"] += b_h * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
        elif name in _FFT and name not in _REGISTERED:
            dims = args[1] if len(args) > 1 else kwargs.get("dim", [-1])
            x = args[0]
            if name == "aten._fft_c2r":
                n = int(args[3]) if len(args) > 3 else 2 * (x.shape[dims[-1]] - 1)
            else:
                n = x.shape[dims[-1]]
            transforms = x.numel() // x.shape[dims[-1]]
            self.macs["fft"] += int(_FFT[name] * n * math.log2(max(n, 2)) * transforms / 2)
        elif name not in _REGISTERED:
            self.uncounted[name] += 1
        return func(*args, **(kwargs or {}))


def count_macs(module: nn.Module, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Multiply-accumulates of one ``module(*args, **kwargs)`` call (no gradients).

    Returns
    -------
    dict with ``macs`` (total), ``counter_macs`` (FlopCounterMode / 2), ``explicit_macs``
    (``{"attention": ..., "fft": ...}``), ``by_module`` (MACs per direct child, counter part
    only), ``uncounted_ops`` (op name -> calls, element-wise and others without a formula),
    ``tool`` and ``caveats``.
    """
    counter = FlopCounterMode(display=False)
    explicit = _ExplicitCounter()
    # nn.TransformerEncoder's inference fast path is one fused op with no FLOP formula;
    # the regular path runs the same products as countable matmuls
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), counter, explicit:
            module(*args, **kwargs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    flops_by_module = counter.get_flop_counts()
    root = type(module).__name__
    by_module = {}
    for name, ops in flops_by_module.items():
        parts = name.split(".")
        if len(parts) == 2 and parts[0] == root:
            by_module[parts[1]] = sum(ops.values()) // 2
    counter_macs = counter.get_total_flops() // 2
    explicit_macs = dict(explicit.macs)
    by_op = {str(op): f // 2 for op, f in flops_by_module.get("Global", {}).items()}
    layer_macs = sum(v for k, v in by_op.items() if k in ("aten.mm", "aten.addmm", "aten.convolution"))
    return {
        "macs": counter_macs + sum(explicit_macs.values()),
        "layer_macs": layer_macs,
        "counter_macs": counter_macs,
        "explicit_macs": explicit_macs,
        "by_module": by_module,
        "by_op": by_op,
        "uncounted_ops": dict(sorted(explicit.uncounted.items())),
        "tool": f"torch.utils.flop_counter.FlopCounterMode (torch {torch.__version__}), MACs = FLOPs/2, "
                "+ explicit SDPA (CPU) and FFT counts",
        "caveats": [
            "element-wise ops (activations, normalisations, SSD-scan exponentials/masks, complex "
            "scaling) and pooling are not counted",
            "FFTs are a radix-2 estimate (2.5 n log2 n FLOPs per real transform)",
            "mamba-ssm fused CUDA kernels are invisible to the counter; measure on the CPU, where the "
            "pure-PyTorch SSD scan's matrix products are counted",
        ],
    }


def torchinfo_mult_adds(module: nn.Module, *args: Any, **kwargs: Any) -> int:
    """Mult-Adds of one ``module(*args, **kwargs)`` call in torchinfo's ``total_mult_adds`` convention.

    The convention of torchinfo 1.8.0 (``LayerInfo.calculate_macs``), which papers quoting
    "Mult-Adds" (e.g. SoundCompass, its footnote 4) used. For every leaf module that owns
    parameters, with output shape ``o`` (the first tensor of a tuple output):

    * a parameter named ``weight`` or ``bias`` adds ``numel x o[0] x prod(o[2:])`` in a
      module whose class name contains ``Conv`` (once per output position) and
      ``numel x o[0]`` in any other layer: a ``Linear`` applied to a ``[B, T, F, D]`` tensor
      counts ``(in x out + out) x B``, not ``x B x T x F``;
    * any other parameter whose name contains ``weight``/``bias`` (recurrent ``weight_ih_l0``,
      ...) adds ``numel x o[0] x o[1]``.

    Nothing else is counted: parameter-free operations (attention products, the SSM scan's
    matrix products, FFTs, element-wise ops) and parameters applied functionally outside a
    leaf's own forward are invisible, as they are to torchinfo's hooks. The call runs on fake
    tensors (shapes only, no arithmetic) without gradients.
    """
    total = 0

    def hook(layer: nn.Module, _inp: Any, out: Any) -> None:
        nonlocal total
        o = out
        while isinstance(o, (tuple, list)):
            o = o[0]
        if not torch.is_tensor(o):
            return
        shape = list(o.shape)
        conv = "Conv" in type(layer).__name__
        for name, p in layer.named_parameters(recurse=False):
            if name in ("weight", "bias"):
                total += p.numel() * (math.prod(shape[:1] + shape[2:]) if conv else shape[0])
            elif "weight" in name or "bias" in name:
                total += p.numel() * math.prod(shape[:2])

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if not list(m.children()) and list(m.parameters(recurse=False))
    ]
    try:
        with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True) as mode:
            fake_args = tuple(mode.from_tensor(a) if torch.is_tensor(a) else a for a in args)
            fake_kwargs = {k: mode.from_tensor(v) if torch.is_tensor(v) else v for k, v in kwargs.items()}
            module(*fake_args, **fake_kwargs)
    finally:
        for h in handles:
            h.remove()
    return total


InputsFn = Callable[[int], tuple[tuple, dict]]


def _default_inputs(module: nn.Module, n_samples: int, n_channels: int,
                    inputs: InputsFn | None = None) -> tuple[tuple, dict]:
    example: InputsFn | None = inputs or getattr(module, "example_inputs", None)
    if example is not None:
        return example(n_samples)
    g = torch.Generator().manual_seed(0)
    return (0.1 * torch.randn(1, n_channels, n_samples, generator=g),), {}


def complexity(module: nn.Module, seconds: float = 4.0, sample_rate: int = 16000,
               n_channels: int = 4, fake: bool = True,
               inputs: InputsFn | None = None) -> dict[str, Any]:
    """Parameters and MACs per second of audio for one example of ``seconds`` s (batch 1).

    MACs are counted on one ``seconds``-long clip and divided by ``seconds`` (attention
    grows faster than linearly with length, so the clip length is part of the result).
    With ``fake`` the forward pass runs on fake tensors (shapes only, no arithmetic: seconds
    instead of minutes for the paper configurations; same counts); a model that needs real
    values (data-dependent control flow) falls back to a real run. ``inputs(n_samples) ->
    (args, kwargs)`` overrides the example inputs (default: ``module.example_inputs`` or a
    Gaussian mixture).
    """
    was_training = module.training
    module.eval()
    n = int(round(seconds * sample_rate))
    try:
        macs = None
        if fake:
            try:
                with FakeTensorMode(allow_non_fake_inputs=True) as mode:
                    args, kwargs = _default_inputs(module, n, n_channels, inputs)
                    args = tuple(mode.from_tensor(a) if torch.is_tensor(a) else a for a in args)
                    kwargs = {k: mode.from_tensor(v) if torch.is_tensor(v) else v for k, v in kwargs.items()}
                    macs = count_macs(module, *args, **kwargs)
                macs["fake_tensors"] = True
            except Exception:  # noqa: BLE001 - any fake-tensor limitation: count on real data instead
                macs = None
        if macs is None:
            args, kwargs = _default_inputs(module, n, n_channels, inputs)
            macs = count_macs(module, *args, **kwargs)
            macs["fake_tensors"] = False
    finally:
        module.train(was_training)
    return {
        "params": parameter_counts(module),
        "macs_per_second": macs["macs"] / seconds,
        "clip_seconds": seconds,
        "sample_rate": sample_rate,
        **macs,
    }
