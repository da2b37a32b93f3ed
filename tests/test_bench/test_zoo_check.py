# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/zoo_check: stock MMSeg tools/test.py on every released file."""
import os.path as osp

import pytest

from bench.zoo_check import run as zoo_check


def test_the_stock_test_log_gives_the_last_test_miou():
    log = ('12/06 13:10:11 - mmengine - INFO - Iter(test) [100/233]    '
           'eta: 0:00:10\n'
           '12/06 13:10:21 - mmengine - INFO - Iter(test) [233/233]    '
           'aAcc: 84.8400  mIoU: 49.1900  mAcc: 58.5100  data_time: 0.0036\n')
    assert zoo_check.logged_miou(log) == 49.19
    assert zoo_check.logged_miou('Iter(train) [10/20] mIoU: 3.0') is None


def test_the_stock_script_and_the_released_rows_are_found():
    assert osp.isfile(zoo_check.stock_test_script())
    models = zoo_check.released_models(osp.join(zoo_check.REPO, 'configs'))
    assert models and all(m['Weights'] and m['folder'] for m in models)


def test_a_data_root_must_name_its_folder_and_exist(tmp_path):
    with pytest.raises(SystemExit, match='give FOLDER=DIR'):
        zoo_check.main(['--data', str(tmp_path)])
    with pytest.raises(SystemExit, match='give FOLDER=DIR'):
        zoo_check.main(['--data', f'camvid240={tmp_path}/missing'])
