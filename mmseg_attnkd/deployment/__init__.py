# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Deployment: ONNX export of distilled models, verified with onnxruntime.

Not imported by ``import mmseg_attnkd``; ``onnx``/``onnxruntime`` are
imported only when an export or verification runs (``pip install onnx
onnxruntime``). Typical use::

    from mmseg_attnkd.deployment import export_onnx
    result = export_onnx('student_config.py', 'student.pth', 'student.onnx',
                         shape=(360, 480))      # verifies by default
    print(result.verification.summary())

The models it takes are the ones the converters write: a plain MMSeg
student (``tools/model_converters/convert_kd_ckpt_to_student.py``) or the
axial teacher output (``convert_axial_ckpt_to_refine_head.py``). See
``docs/deploy.md``.
"""
from .errors import (DeploymentError, DistillationCheckpointError,
                     MissingDependencyError, OnnxExportError,
                     VerificationError)
from .model_loading import (check_plain_checkpoint, check_plain_config,
                            init_export_model)
from .onnx_export import (EXPORTERS, ExportResult, dynamic_shape_limits,
                          export_onnx, export_segmentor, onnx_metadata)
from .runtime import image_to_input, ort_session, read_image
from .verify import VerifyReport, default_images, verify_onnx
from .wrapper import OUTPUT_KINDS, SegmentorExportWrapper

__all__ = [
    'DeploymentError', 'DistillationCheckpointError',
    'MissingDependencyError', 'OnnxExportError', 'VerificationError',
    'check_plain_checkpoint', 'check_plain_config', 'init_export_model',
    'EXPORTERS', 'ExportResult', 'dynamic_shape_limits', 'export_onnx',
    'export_segmentor', 'onnx_metadata', 'image_to_input', 'ort_session', 'read_image',
    'VerifyReport', 'default_images', 'verify_onnx', 'OUTPUT_KINDS',
    'SegmentorExportWrapper'
]
