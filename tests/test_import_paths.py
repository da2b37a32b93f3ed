# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What ``import mmseg_attnkd`` loads, and the public import paths."""
import json
import subprocess
import sys

#: Command-line-only code: the tools import it when they run.
CLI_ONLY = ('mmseg_attnkd.datasets.converters', 'mmseg_attnkd.release',
            'mmseg_attnkd.deployment')


def test_package_import_leaves_cli_only_code_out(subprocess_env):
    """Converters, model-zoo rendering and publishing are not imported."""
    code = ('import json, sys\n'
            'import mmseg_attnkd\n'
            'print(json.dumps(sorted(m for m in sys.modules '
            "if m.startswith('mmseg_attnkd'))))\n")
    out = subprocess.run([sys.executable, '-c', code], env=subprocess_env,
                         capture_output=True, text=True, timeout=300,
                         check=True).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    assert 'mmseg_attnkd.utils.checkpoint' in loaded  # the probe works
    leaked = [m for m in loaded if m.startswith(CLI_ONLY)]
    assert leaked == []


def test_cli_only_modules_import_on_demand():
    from mmseg_attnkd.datasets.converters import convert_camvid
    from mmseg_attnkd.release.model_zoo import sync_readmes
    from mmseg_attnkd.release.publish import save_published
    assert callable(convert_camvid) and callable(sync_readmes) \
        and callable(save_published)


def test_utils_reexports_library_names():
    import mmseg_attnkd.utils as utils
    from mmseg_attnkd.utils import checkpoint, config, export
    for name in utils.__all__:
        assert hasattr(utils, name), name
    assert utils.load_checkpoint_safely is checkpoint.load_checkpoint_safely
    assert utils.build_segmentor is config.build_segmentor
    assert utils.export_axial_refine is export.export_axial_refine
