# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stop (or skip) a training step whose losses are NaN or Inf."""
import logging
from typing import Dict, Optional, Union

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from torch import nn

__all__ = ['NonFiniteLossGuardMixin', 'NONFINITE_POLICIES', 'trainable_zero']

#: ``'raise'``: stop training; ``'skip'``: drop the step and go on.
NONFINITE_POLICIES = ('raise', 'skip')


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


def _as_float(value: Union[torch.Tensor, list]) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().sum())
    return float(sum(float(v.detach().float().sum()) for v in value))


class NonFiniteLossGuardMixin:
    """Check every ``loss*`` entry of :meth:`loss` for NaN/Inf.

    Mixed into MMRazor algorithms (before the algorithm class in the bases).
    ``nonfinite_loss`` selects the policy:

    * ``'raise'`` (default): raise :class:`FloatingPointError` naming the
      iteration and the non-finite losses, before the optimizer step, so
      the weights stay finite and the last checkpoint is usable.
    * ``'skip'``: log a warning and skip the step. In a single process no
      parameter is updated; under DDP (whose wrapper runs its own
      ``train_step``) every loss is replaced by a zero connected to all
      trainable parameters, so gradients are zero on that rank and ranks
      stay in step (momentum and weight decay still apply once).
      The number of skipped steps is in ``nonfinite_skipped``.
    """

    nonfinite_loss: str = 'raise'
    nonfinite_skipped: int = 0

    def _init_nonfinite_guard(self, policy: str) -> None:
        if policy not in NONFINITE_POLICIES:
            raise ValueError(
                f'nonfinite_loss must be one of {NONFINITE_POLICIES} '
                f"('raise' stops training, 'skip' drops the step), got "
                f'{policy!r}.')
        self.nonfinite_loss = policy
        self.nonfinite_skipped = 0
        self._skip_this_step = False

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
        totals = torch.stack([
            losses[k].detach().float().sum() if isinstance(
                losses[k], torch.Tensor) else sum(
                    v.detach().float().sum() for v in losses[k])
            for k in names
        ])
        if bool(torch.isfinite(totals).all()):
            return losses
        bad = {k: _as_float(losses[k]) for k in names}
        bad = {k: v for k, v in bad.items() if not torch.isfinite(
            torch.tensor(v))}
        it = _current_iter()
        where = f'at iteration {it}' if it is not None else \
            '(outside a runner)'
        listed = ', '.join(f'{k}={v}' for k, v in bad.items())
        if self.nonfinite_loss == 'raise':
            raise FloatingPointError(
                f'non-finite loss {where}: {listed}. Training stopped before '
                'the optimizer step, so the weights are still finite. Fix: '
                'lower the learning rate or that loss\'s loss_weight, enable '
                'gradient clipping (optim_wrapper.clip_grad=dict(max_norm='
                '10)), check the inputs and labels of this batch, or set '
                "nonfinite_loss='skip' on the algorithm to skip such steps.")
        self.nonfinite_skipped += 1
        self._skip_this_step = True
        print_log(
            f'Skipping the step {where}: non-finite {listed} '
            f'({self.nonfinite_skipped} skipped so far).',
            logger='current', level=logging.WARNING)
        zero = trainable_zero(self)
        return {
            k: (zero if k in names else v)
            for k, v in losses.items()
        }

    def loss(self, batch_inputs, data_samples=None):
        """The algorithm's losses, checked for NaN/Inf (see class doc)."""
        return self.check_losses(super().loss(batch_inputs, data_samples))

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, torch.Tensor]:
        """``BaseModel.train_step`` that leaves out skipped steps.

        Used without DDP; under DDP, MMEngine's wrapper runs its own
        ``train_step`` and the zero losses of :meth:`check_losses` apply.
        """
        self._skip_this_step = False
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed_losses, log_vars = self.parse_losses(losses)
        if self._skip_this_step:
            optim_wrapper.zero_grad()
            return log_vars
        optim_wrapper.update_params(parsed_losses)
        return log_vars
