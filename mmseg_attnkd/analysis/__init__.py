# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Inspection, complexity and visualisation helpers behind ``tools/analysis``.

* :mod:`.module_taps` - candidate distillation taps and their shapes
* :mod:`.complexity` - parameters and FLOPs (``mmengine.analysis``)
* :mod:`.attention_maps` - CBAM attention of an AttnFD model
* :mod:`.visualize` / :mod:`.drawing` - figures
"""
from .attention_maps import StageAttention, collect_cbam_attention, find_cbam
from .complexity import format_count, segmentor_complexity
from .drawing import (colorize_mask, difference_map, hstack_panels,
                      overlay_heatmap, save_png, vstack_rows)
from .module_taps import (INPUT_SUFFIX, ModuleNotFound, TapRow,
                          candidate_taps, format_stage_snippet,
                          format_tap_table, get_module,
                          inspect_taps, record_tap_shapes,
                          suggest_attnfd_stages)
from .visualize import (Sample, attention_figures, axial_predictions,
                        comparison_figure,
                        difference_figure, load_dataset_samples,
                        load_image_sample, predict_mask)

__all__ = [
    'StageAttention', 'collect_cbam_attention', 'find_cbam', 'format_count',
    'segmentor_complexity', 'colorize_mask', 'difference_map',
    'hstack_panels', 'overlay_heatmap', 'save_png', 'vstack_rows',
    'INPUT_SUFFIX', 'ModuleNotFound', 'TapRow', 'candidate_taps',
    'format_tap_table', 'get_module', 'inspect_taps', 'record_tap_shapes',
    'suggest_attnfd_stages', 'format_stage_snippet', 'Sample', 'attention_figures',
    'comparison_figure', 'difference_figure', 'load_dataset_samples',
    'load_image_sample', 'predict_mask', 'axial_predictions'
]
