# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The fused AttnFD stage path: backward worked out in the forward pass.

Selected by :meth:`.AttnFDLoss.connector_loss`; the loss's weight and
reduction come from the loss itself (:meth:`.AttnFDLoss.rows_coef`,
:meth:`.AttnFDLoss.reduce_rows`).

The student branch of an AttnFD stage (CBAM -> 1x1 conv -> BN -> bilinear
resize to the teacher's size if needed -> L2 normalisation -> squared
distance to the teacher map) ends in a scalar and feeds nothing else, so
its gradients are fixed once the forward pass is done.
:func:`attnfd_stage_loss` therefore computes the value and every gradient
(w.r.t. the student feature and the connector's parameters) at once and
keeps only those gradients for backward: no activation of the branch is
stored, and large ``C_t``-channel maps of the alignment exist only in
chunks of output channels (``'channel'`` normalisation is separable over
channels: BN, resize, norms and distances are per channel; the conv's
input gradient is summed over the chunks). Every operation is the one the
modules run (``conv2d``, ``native_batch_norm`` with the same running
statistics update, ``interpolate``, their backward kernels, and the
loss's own gradient replay), so a map handled in one piece gives the
module-by-module values and gradients bit for bit, and chunks differ only
by float rounding of that sum.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..connectors.cbam_connector import CBAMConnector
from .attnfd_rows import as_rows, normalize_rows, row_norms, rows_loss_and_grad

__all__ = ['fusable_connector', 'attnfd_stage_loss', 'WHOLE_ELEMENTS',
           'CHUNK_ELEMENTS']

#: In 'channel' mode, aligned ``[B, C_t, H, W]`` maps of up to this many
#: elements are handled whole (fewer, larger kernels), larger ones in
#: chunks of teacher channels of about ``CHUNK_ELEMENTS`` elements (a few
#: such temporaries exist at a time).
WHOLE_ELEMENTS = 1 << 21
CHUNK_ELEMENTS = 1 << 18

_aten = torch.ops.aten


def _plain(module: nn.Module) -> bool:
    return not (module._forward_hooks or module._forward_pre_hooks)


def fusable_connector(connector: nn.Module, feature: Tensor,
                      target: Tensor) -> bool:
    """Whether :func:`attnfd_stage_loss` applies to this connector and maps.

    It does for the package's own :class:`CBAMConnector` (1x1 conv without
    bias + ``nn.BatchNorm2d``, or no alignment) without hooks, float32/64
    maps (resized bilinearly to the teacher's size like the loss does),
    outside autocast and with autograd on; anything else keeps the
    module-by-module path. The loss side is checked by
    :func:`.attnfd_loss.fusable_stage`.

    Args:
        connector: Student connector of the stage.
        feature: Student record ``[B, C_s, H, W]``.
        target: Teacher connector output ``[B, C_t, H, W]``.
    """
    if type(connector) is not CBAMConnector:
        return False
    if not torch.is_grad_enabled() or feature.dim() != 4 or \
            target.dim() != 4 or feature.shape[0] != target.shape[0] or \
            feature.dtype not in (torch.float32, torch.float64) or \
            torch.is_autocast_enabled(feature.device.type) or \
            feature[:, :1].numel() < 2:  # BN's one-value error stays
        return False
    modules = [connector]
    if connector.align is not None:
        if len(connector.align) != 2:
            return False
        conv, norm = connector.align
        if type(conv) is not nn.Conv2d or conv.bias is not None or \
                conv.groups != 1 or conv.kernel_size != (1, 1) or \
                conv.stride != (1, 1) or conv.padding != (0, 0) or \
                type(norm) is not nn.BatchNorm2d:
            return False
        modules += [connector.align, conv, norm]
    return all(_plain(m) for m in modules)


def _bn_args(bn: nn.BatchNorm2d) -> Tuple[bool, float]:
    """``(use batch statistics, momentum)`` as ``_BatchNorm.forward`` does,
    counting the batch in ``num_batches_tracked``."""
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and \
            bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) \
            if bn.momentum is None else bn.momentum
    use_batch = bn.training or (bn.running_mean is None
                                and bn.running_var is None)
    return use_batch, factor


def _sl(t: Optional[Tensor], lo: int, hi: int) -> Optional[Tensor]:
    return None if t is None else t[lo:hi]


def _resize(y: Tensor, size: Sequence[int], loss: nn.Module, need: bool):
    """``y`` resized as :class:`AttnFDLoss` does, with a local graph for
    the backward kernel autograd would run; ``(map, graph or None)``."""
    if tuple(y.shape[2:]) == tuple(size):
        return y, None
    with torch.enable_grad():
        leaf = y.detach().requires_grad_(need)
        out = F.interpolate(leaf, size=tuple(size), mode='bilinear',
                            align_corners=loss.align_corners)
    return out.detach(), ((leaf, out) if need else None)


def _unresize(graph, grad: Tensor) -> Tensor:
    """Gradient at the size before :func:`_resize`."""
    if graph is None:
        return grad
    leaf, out = graph
    return torch.autograd.grad(out, leaf, grad.view(out.shape))[0]


def _aligned_loss(feat: Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d,
                  target: Tensor, t_size: Sequence[int], loss: nn.Module,
                  needs: Sequence[bool]):
    """Loss and gradients of ``loss(bn(conv(feat)), target)``.

    Args:
        feat: CBAM output ``[B, C_s, H, W]`` (no graph).
        conv, bn: The alignment layers.
        target: Normalised teacher rows (see :func:`as_rows`).
        t_size: Teacher ``(H, W)``; the aligned map is resized to it.
        loss: The stage's :class:`AttnFDLoss`.
        needs: Whether gradients of ``(feat, weight, bn weight, bn bias)``
            are wanted.

    Returns:
        tuple: Loss, then the four gradients (None where not wanted).
    """
    batch, channels = feat.shape[0], conv.out_channels
    mode, full = loss.normalize, loss.full
    coef = loss.rows_coef(batch, channels, feat)
    plane = batch * t_size[0] * t_size[1]
    step = channels if mode != 'channel' or \
        channels * plane <= WHOLE_ELEMENTS else \
        max(1, CHUNK_ELEMENTS // plane)
    use_batch, factor = _bn_args(bn)
    running = bn.training is False or bn.track_running_stats
    r_mean = bn.running_mean if running else None
    r_var = bn.running_var if running else None
    grads: List[Optional[Tensor]] = [None] * 4
    parts, row_losses = [[], [], []], []
    for lo in range(0, channels, step):
        hi = min(lo + step, channels)
        weight = conv.weight[lo:hi]
        z = F.conv2d(feat, weight)
        stats = (_sl(bn.weight, lo, hi), _sl(bn.bias, lo, hi),
                 _sl(r_mean, lo, hi), _sl(r_var, lo, hi))
        y, s_mean, s_invstd = _aten.native_batch_norm(
            z, *stats, use_batch, factor, bn.eps)
        y, graph = _resize(y, t_size, loss, any(needs))
        rows = as_rows(y, mode)
        t_rows = target[:, lo:hi] if mode == 'channel' else target
        row_loss, g_rows = rows_loss_and_grad(rows, t_rows, loss.eps, coef,
                                              any(needs), full)
        row_losses.append(row_loss)
        del y, rows
        if g_rows is None:
            continue
        g_y = _unresize(graph, g_rows).view(z.shape)
        del g_rows, graph
        g_z, g_gamma, g_beta = _aten.native_batch_norm_backward(
            g_y, z, stats[0], stats[2], stats[3], s_mean,
            s_invstd, use_batch, bn.eps,
            [True, bool(needs[2]), bool(needs[3])])
        del g_y, z
        g_feat, g_w, _ = _aten.convolution_backward(
            g_z, feat, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0],
            1, [bool(needs[0]), bool(needs[1]), False])
        if g_feat is not None:
            grads[0] = g_feat if grads[0] is None else grads[0].add_(g_feat)
        for part, g in zip(parts, (g_w, g_gamma, g_beta)):
            part.append(g)
    for i, part in enumerate(parts, 1):
        if needs[i] and part:
            grads[i] = torch.cat(part)
    row_loss = row_losses[0] if len(row_losses) == 1 else \
        torch.cat(row_losses, dim=1)
    value = loss.reduce_rows(row_loss, batch)
    return (value, *grads)


class _StageLoss(torch.autograd.Function):
    """Autograd node of :func:`attnfd_stage_loss`: backward only scales
    the gradients found in forward by the incoming gradient."""

    @staticmethod
    def forward(ctx, run, feature: Tensor, *params: Tensor) -> Tensor:
        value, grads = run(ctx.needs_input_grad[1:])
        ctx.grads = grads
        return value

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        return (None, *[None if g is None else g * grad_out
                        for g in ctx.grads])


def attnfd_stage_loss(feature: Tensor, connector: CBAMConnector,
                      target: Tensor, loss: nn.Module,
                      target_is_scratch: bool = False) -> Tensor:
    """``loss(connector(feature), target)``, gradients found in forward.

    Check :func:`.attnfd_loss.fusable_stage` first (as
    :meth:`.AttnFDLoss.connector_loss` does).

    Args:
        feature: Student record ``[B, C_s, H, W]``.
        connector: The stage's :class:`CBAMConnector`.
        target: Teacher connector output ``[B, C_t, H, W]`` (detached).
        loss: The stage's :class:`AttnFDLoss`.
        target_is_scratch: ``target`` is a temporary nobody else reads; it
            is normalised in place (one teacher-sized map less).

    Returns:
        Tensor: Scalar loss; backward gives ``feature`` and the connector's
        parameters the gradients of the module-by-module computation.
    """
    cbam = connector.cbam
    cbam_params = list(cbam.parameters())
    conv, bn = connector.align if connector.align is not None \
        else (None, None)
    params = cbam_params + [
        p for p in ((conv.weight, bn.weight, bn.bias) if conv else ())
        if p is not None
    ]
    full, t_size = loss.full, tuple(target.shape[2:])
    t_rows = as_rows(target.detach().to(feature.dtype), loss.normalize)
    if target_is_scratch or t_rows.data_ptr() != target.data_ptr():
        with torch.no_grad():  # our own copy: normalise it in place
            t_rows.div_(row_norms(t_rows, full).clamp_min(loss.eps))
    else:
        t_rows = normalize_rows(t_rows, loss.eps, full)
    del target

    def run(needs: Sequence[bool]):
        need_x, need = needs[0], dict(zip(map(id, params), needs[1:]))
        cbam_wanted = [p for p in cbam_params if need[id(p)]]
        need_feat = need_x or bool(cbam_wanted)
        with torch.set_grad_enabled(need_feat):
            leaf = feature.detach().requires_grad_(need_x)
            refined = cbam(leaf)
        found = {}
        if conv is not None:
            wants = [need_feat] + [p is not None and need[id(p)]
                                   for p in (conv.weight, bn.weight,
                                             bn.bias)]
            value, g_feat, *g_align = _aligned_loss(
                refined.detach(), conv, bn, t_rows, t_size, loss, wants)
            found.update((id(p), g) for p, g in zip(
                (conv.weight, bn.weight, bn.bias), g_align) if p is not None)
        else:
            batch, channels = refined.shape[:2]
            coef = loss.rows_coef(batch, channels, refined)
            resized, graph = _resize(refined.detach(), t_size, loss,
                                     need_feat)
            row_loss, g_feat = rows_loss_and_grad(
                as_rows(resized, loss.normalize), t_rows, loss.eps, coef,
                need_feat, full)
            value = loss.reduce_rows(row_loss, batch)
            del resized
            if g_feat is not None:
                g_feat = _unresize(graph, g_feat)
        g_x = None
        if need_feat:
            wanted = ([leaf] if need_x else []) + cbam_wanted
            g_all = list(torch.autograd.grad(
                refined, wanted, g_feat.view(refined.shape),
                allow_unused=True))
            g_x = g_all.pop(0) if need_x else None
            found.update(zip(map(id, cbam_wanted), g_all))
        return value, [g_x] + [found.get(id(p)) if need[id(p)] else None
                               for p in params]

    return _StageLoss.apply(run, feature, *params)
