# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Image helpers for the visualisation tools (numpy/OpenCV, RGB uint8)."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..utils.image_io import save_png

__all__ = [
    'colorize_mask', 'overlay_heatmap', 'difference_map', 'add_title',
    'hstack_panels', 'vstack_rows', 'save_png', 'default_palette'
]

_IGNORE_COLOUR = (0, 0, 0)


def default_palette(num_classes: int, seed: int = 2024) -> np.ndarray:
    """A fixed random palette ``[num_classes, 3]`` (uint8, RGB)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(num_classes, 3), dtype=np.uint8)


def colorize_mask(mask: np.ndarray,
                  palette: Optional[Sequence[Sequence[int]]],
                  ignore_index: int = 255) -> np.ndarray:
    """Paint a label map ``[H, W]`` with a dataset palette.

    Args:
        mask: Class indices ``[H, W]``.
        palette: ``[K, 3]`` RGB colours (a dataset's ``metainfo['palette']``);
            None uses :func:`default_palette`.
        ignore_index: Label drawn black (void).

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 RGB.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f'expected a [H, W] label map, got {mask.shape}')
    valid = mask != ignore_index
    top = int(mask[valid].max()) + 1 if valid.any() else 1
    if palette is None:
        palette = default_palette(max(top, 1))
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if top > len(palette):
        raise ValueError(
            f'label {top - 1} has no colour: the palette has '
            f'{len(palette)} entries. Pass the dataset whose classes the '
            'model predicts (its metainfo palette).')
    out = np.zeros(mask.shape + (3, ), dtype=np.uint8)
    out[valid] = palette[mask[valid]]
    out[~valid] = _IGNORE_COLOUR
    return out


def overlay_heatmap(image: np.ndarray,
                    heat: np.ndarray,
                    alpha: float = 0.5,
                    normalize: bool = True) -> np.ndarray:
    """Blend a heat map (any size, resized) over an RGB image.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        heat: ``[h, w]`` float map; values in [0, 1] unless ``normalize``.
        alpha: Weight of the heat map.
        normalize: Min-max normalise ``heat`` first.

    Returns:
        np.ndarray: ``[H, W, 3]`` uint8 RGB (JET colour map).
    """
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f'expected a [h, w] heat map, got {heat.shape}')
    if normalize:
        lo, hi = float(heat.min()), float(heat.max())
        heat = (heat - lo) / (hi - lo) if hi > lo else np.zeros_like(heat)
    heat = np.clip(heat, 0.0, 1.0)
    h, w = image.shape[:2]
    heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8),
                               cv2.COLORMAP_JET)[..., ::-1]
    out = (1 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(out, 0, 255).astype(np.uint8)


def difference_map(image: np.ndarray, pred_a: np.ndarray,
                   pred_b: np.ndarray,
                   colour: Tuple[int, int, int] = (255, 0, 255),
                   dim: float = 0.4) -> Tuple[np.ndarray, float]:
    """Highlight pixels where two predictions differ.

    Returns:
        tuple: ``[H, W, 3]`` uint8 image (dimmed, differing pixels in
        ``colour``) and the fraction of differing pixels.
    """
    if pred_a.shape != pred_b.shape:
        raise ValueError(f'predictions differ in shape: {pred_a.shape} vs '
                         f'{pred_b.shape}')
    diff = pred_a != pred_b
    out = (image.astype(np.float32) * dim).astype(np.uint8)
    out[diff] = colour
    return out, float(diff.mean())


def add_title(panel: np.ndarray, title: str, bar: int = 14) -> np.ndarray:
    """Put ``title`` in a white bar above ``panel``."""
    h, w = panel.shape[:2]
    scale = max(0.3, min(0.5, w / 320))
    canvas = np.full((h + bar, w, 3), 255, dtype=np.uint8)
    canvas[bar:] = panel
    cv2.putText(canvas, title[:max(4, w // 6)], (2, bar - 4),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def hstack_panels(panels: Sequence[np.ndarray],
                  titles: Optional[Sequence[str]] = None,
                  gap: int = 2) -> np.ndarray:
    """Panels of equal height side by side (titled if ``titles``)."""
    if not panels:
        raise ValueError('no panels to draw')
    if titles is not None:
        panels = [add_title(p, t) for p, t in zip(panels, titles)]
    h = max(p.shape[0] for p in panels)
    parts = []
    for i, p in enumerate(panels):
        if p.shape[0] != h:
            p = np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)),
                       constant_values=255)
        parts.append(p)
        if i < len(panels) - 1 and gap:
            parts.append(np.full((h, gap, 3), 255, dtype=np.uint8))
    return np.concatenate(parts, axis=1)


def vstack_rows(rows: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Rows stacked vertically, right-padded to the widest."""
    w = max(r.shape[1] for r in rows)
    parts = []
    for i, r in enumerate(rows):
        parts.append(np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)),
                            constant_values=255))
        if i < len(rows) - 1 and gap:
            parts.append(np.full((gap, w, 3), 255, dtype=np.uint8))
    return np.concatenate(parts, axis=0)


