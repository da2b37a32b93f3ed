# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Optional NaN/Inf check of an algorithm's losses before the update.

The default check is :class:`~mmseg_attnkd.engine.NonFiniteLossHook` (after
the iteration, no extra device sync). This mixin adds what a hook cannot:
deciding *before* the optimizer step, by overriding ``parse_losses``, the
public step of ``BaseModel.train_step`` (and of MMEngine's DDP wrapper)
between the forward pass and the update.
"""
import logging
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.logging import MessageHub, print_log
from torch import nn

from ...utils.nonfinite import nonfinite_losses, nonfinite_message

__all__ = ['NonFiniteLossGuardMixin', 'NONFINITE_POLICIES', 'trainable_zero']

#: None: no check in the model (use NonFiniteLossHook); ``'raise'``: stop
#: before the update; ``'skip'``: replace the step by a zero-gradient one.
NONFINITE_POLICIES = (None, 'raise', 'skip')


def trainable_zero(model: nn.Module) -> torch.Tensor:
    """A zero scalar connected to every trainable parameter of ``model``.

    Its gradient is exactly zero for every parameter, so a backward pass
    reaches all of them (DDP finds no unused parameters) and changes none.
    """
    zero: Optional[torch.Tensor] = None
    for p in model.parameters():
        if p.requires_grad:
            term = p.view(-1)[:1].sum() * 0.0
            zero = term if zero is None else zero + term
    return torch.zeros(()) if zero is None else zero


def _current_iter() -> Optional[int]:
    """1-based iteration being run (as in the logs), if inside a runner."""
    try:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter', None)
    except Exception:  # pragma: no cover - no message hub
        return None
    return None if it is None else int(it) + 1


def _total(value: Union[torch.Tensor, list]) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().float().sum()
    return sum(v.detach().float().sum() for v in value)


class NonFiniteLossGuardMixin:
    """Check every ``loss*`` entry for NaN/Inf before the optimizer step.

    Mixed into MMRazor algorithms (before the algorithm class in the bases).
    ``nonfinite_loss`` selects the policy:

    * ``None`` (default): nothing here; :class:`NonFiniteLossHook` in the
      config stops training after the step, before it is logged or saved,
      at no extra cost.
    * ``'raise'``: raise :class:`FloatingPointError` naming the iteration
      and the non-finite losses before the optimizer step, so even the
      weights in memory stay finite.
    * ``'skip'``: log a warning and replace every loss by a zero connected
      to all trainable parameters: the step runs with exactly zero
      gradients (DDP ranks stay in step), so plain SGD changes nothing;
      momentum and weight decay still apply once. The number of skipped
      steps is in ``nonfinite_skipped``.

    ``'raise'`` and ``'skip'`` decide on the host before the update, which
    costs one device synchronisation per step (the stream cannot run ahead
    into the backward pass).
    """

    nonfinite_loss: Optional[str] = None
    nonfinite_skipped: int = 0

    def _init_nonfinite_guard(self, policy: Optional[str]) -> None:
        if policy not in NONFINITE_POLICIES:
            raise ValueError(
                f'nonfinite_loss must be one of {NONFINITE_POLICIES} (None: '
                "NonFiniteLossHook checks, 'raise' stops before the update, "
                f"'skip' drops the step), got {policy!r}.")
        self.nonfinite_loss = policy
        self.nonfinite_skipped = 0

    def check_losses(self, losses: Dict) -> Dict:
        """Apply the policy to ``losses`` (the dict :meth:`loss` returns).

        Args:
            losses: Loss name -> scalar tensor (or list of tensors). Only
                names containing ``'loss'`` are checked, as in
                ``BaseModel.parse_losses``.

        Returns:
            dict: ``losses`` unchanged, or with zero losses when skipping.

        Raises:
            FloatingPointError: A loss is NaN/Inf and the policy is
                ``'raise'``.
        """
        names = [
            k for k, v in losses.items()
            if 'loss' in k and isinstance(v, (torch.Tensor, list))
        ]
        if not names:
            return losses
        totals = torch.stack([_total(losses[k]) for k in names])
        if bool(torch.isfinite(totals).all()):  # the one sync per step
            return losses
        bad = nonfinite_losses(
            {k: float(v) for k, v in zip(names, totals.tolist())})
        it = _current_iter()
        if self.nonfinite_loss == 'raise':
            raise FloatingPointError(nonfinite_message(
                bad, it, 'before the optimizer step, so the weights are '
                'still finite'))
        self.nonfinite_skipped += 1
        listed = ', '.join(f'{k}={v}' for k, v in bad.items())
        where = f'at iteration {it}' if it is not None else \
            '(outside a runner)'
        print_log(
            f'Skipping the step {where}: non-finite {listed} '
            f'({self.nonfinite_skipped} skipped so far).',
            logger='current', level=logging.WARNING)
        zero = trainable_zero(self)
        return {
            k: (zero if k in names else v)
            for k, v in losses.items()
        }

    def parse_losses(
        self, losses: Dict[str, torch.Tensor]
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """``BaseModel.parse_losses`` after the policy's check (if any)."""
        if self.nonfinite_loss is not None:
            losses = self.check_losses(losses)
        return super().parse_losses(losses)
