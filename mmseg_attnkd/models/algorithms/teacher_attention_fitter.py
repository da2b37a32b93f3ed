# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Fit AttnFD's teacher-side CBAMs on a frozen, trained teacher.

The AttnFD paper refines teacher features with a CBAM that was trained and
then frozen. A randomly initialised CBAM is not "where the teacher looks":
with per-channel L2 normalisation its channel weights divide out and what
remains is the teacher's features times a fixed random spatial mask. Here
each teacher-side CBAM is inserted into the teacher's own forward pass at
its stage and only the CBAM parameters are trained, with the teacher's own
(frozen) decode head and segmentation loss: the attention learns to keep
what the teacher needs for its prediction and to damp what it does not.
"""
import copy
from typing import Any, Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmrazor.registry import MODELS

__all__ = ['TeacherAttentionFitter']


def _replace(data: Any, idx: Optional[int], fn) -> Any:
    """``fn`` applied to ``data`` or to its item ``idx`` (tuples/lists)."""
    if idx is None:
        return fn(data)
    items = list(data)
    items[idx] = fn(items[idx])
    return type(data)(items) if isinstance(data, tuple) else items


@MODELS.register_module()
class TeacherAttentionFitter(BaseModel):
    """The teacher of an AttnFD config with trainable CBAMs at its stages.

    Built from the model dict of an AttnFD distillation config
    (``SegSingleTeacherDistill`` with an ``AttnFDDistiller`` or a subclass
    and a ``teacher_ckpt``), so stages, channels and CBAM options are
    exactly those the distiller will use. The teacher stays in eval mode
    with frozen weights; the CBAMs start from the distiller's seeded random
    weights and are the only trainable parameters. ``mode='loss'`` returns
    the teacher's segmentation losses with the CBAMs in its forward pass,
    ``mode='predict'`` its predictions (validation shows how much of the
    teacher's accuracy the refined features keep).

    Args:
        distill_model: Model dict of the AttnFD config.
        data_preprocessor: Ignored; the teacher's own preprocessor is used.
        init_cfg: Must be None.
    """

    def __init__(self,
                 distill_model: Dict,
                 data_preprocessor: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=None)
        cfg = copy.deepcopy(distill_model)
        distiller = cfg.get('distiller', {})
        if not isinstance(distiller, dict) or 'AttnFD' not in str(
                distiller.get('type', '')):
            raise ValueError(
                'TeacherAttentionFitter: the config must distil with AttnFD '
                '(model.distiller.type AttnFDDistiller or '
                "AttnFDAxialDistiller), got "
                f"{getattr(distiller, 'get', dict().get)('type')!r}.")
        if not cfg.get('teacher_ckpt'):
            raise ValueError(
                'TeacherAttentionFitter: the config has no teacher_ckpt; '
                'the attention is fitted on a trained teacher, so set '
                'model.teacher_ckpt to its checkpoint.')
        # the fit starts from the same seeded random CBAMs as 'random'
        distiller.update(teacher_attention='random',
                         teacher_attention_ckpt=None)
        cfg.setdefault('_scope_', 'mmrazor')
        algorithm = MODELS.build(cfg)
        dist = algorithm.distiller
        self.teacher = algorithm.teacher
        self.data_preprocessor = algorithm.teacher.data_preprocessor
        self.sides: List[Dict[str, Any]] = [
            dict(s['teacher']) for s in dist.stages
        ]
        self.channels: List[int] = [
            int(s['teacher_channels']) for s in dist.stages
        ]
        self.cbam_options = dist.cbam_options
        self.connector_names = dist.teacher_connector_names
        self.cbams = nn.ModuleList(
            dist.connectors[n].cbam for n in self.connector_names)
        del algorithm
        for param in self.teacher.parameters():
            param.requires_grad_(False)
        for param in self.cbams.parameters():
            param.requires_grad_(True)
        self._handles = []
        self._hook_cbams()

    def _hook_cbams(self) -> None:
        modules = dict(self.teacher.named_modules())
        for side, cbam in zip(self.sides, self.cbams):
            module, idx = modules[side['name']], side['data_idx']
            if side['record'] == 'inputs':

                def pre_hook(mod, args, cbam=cbam, idx=idx):
                    return _replace(args, idx, cbam)

                handle = module.register_forward_pre_hook(pre_hook)
            else:

                def hook(mod, args, output, cbam=cbam, idx=idx):
                    return _replace(output, idx, cbam)

                handle = module.register_forward_hook(hook)
            self._handles.append(handle)

    def init_weights(self) -> None:
        """Keep the teacher's weights and the distiller's seeded CBAMs."""

    def train(self, mode: bool = True) -> 'TeacherAttentionFitter':
        """The teacher is always in eval mode; the CBAMs follow ``mode``."""
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[Dict, list, torch.Tensor]:
        """Run the teacher with its stage features refined by the CBAMs.

        Args:
            inputs: ``[B, 3, H, W]`` preprocessed images.
            data_samples: MMSeg ``SegDataSample`` list.
            mode: ``'loss'``, ``'predict'`` or ``'tensor'``.
        """
        return self.teacher(inputs, data_samples, mode=mode)

    def fitted_state_dict(self) -> Dict[str, torch.Tensor]:
        """``{'attnfd_{i}_teacher.cbam.<param>': tensor}`` for the file."""
        out = {}
        for name, cbam in zip(self.connector_names, self.cbams):
            for key, value in cbam.state_dict().items():
                out[f'{name}.cbam.{key}'] = value.detach().cpu().clone()
        return out
