# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/download_model.py against a model zoo served on 127.0.0.1."""
import http.server
import os
import os.path as osp
import threading

import pytest
import torch
import yaml

from _tools_helpers import load_tool

from mmseg_attnkd.release import publish

NAME = 'deeplabv3plus_r18-w16-d16_camvid-240x180'


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site folder; ``/short/<f>`` promises more bytes than it
    sends (a connection cut mid-file)."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):  # noqa: N802
        if self.path.startswith('/short/'):
            data = open(osp.join(self.directory, self.path[7:]),
                        'rb').read()
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def zoo(tmp_path):
    """A released file, a metafile naming it, and a loopback server."""
    root = tmp_path / 'site'
    (root / 'zoo').mkdir(parents=True)
    tmp = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {'w': torch.arange(1000.0)}}, tmp)
    name = publish.published_name(NAME, '20261206_120000',
                                  publish.sha256_of_file(tmp))
    os.replace(tmp, str(root / 'zoo' / name))
    configs = tmp_path / 'repo' / 'configs' / 'camvid240'
    configs.mkdir(parents=True)
    (configs / 'metafile.yml').write_text(yaml.safe_dump(dict(Models=[
        dict(Name=NAME, Config=f'configs/camvid240/{NAME}.py',
             Weights=f'zoo/{name}'),
        dict(Name='not_trained_here', Config='configs/camvid240/x.py')])))

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield dict(root=root, name=name, configs=str(configs.parent),
               base=f'http://127.0.0.1:{server.server_address[1]}')
    server.shutdown()
    server.server_close()


@pytest.fixture
def tool():
    return load_tool('download_model.py')


def _run(tool, zoo, out, *extra, name=NAME):
    return tool.main([name, '--out-dir', str(out), '--configs-dir',
                      zoo['configs'], '--base-url', zoo['base'], *extra])


def test_good_file_is_downloaded_checked_and_loads(tool, zoo, tmp_path,
                                                   capsys):
    out = tmp_path / 'ckpt'
    assert _run(tool, zoo, out) == 0
    path = capsys.readouterr().out.strip()
    assert path == str(out / zoo['name'])
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(1000.0))
    assert sorted(os.listdir(out)) == [zoo['name']]  # no partial file
    assert _run(tool, zoo, out) == 0  # present and intact: kept


def test_tampered_file_is_refused_in_one_line(tool, zoo, tmp_path, capsys):
    served = zoo['root'] / 'zoo' / zoo['name']
    data = bytearray(served.read_bytes())
    data[-10] ^= 0xFF
    served.write_bytes(bytes(data))
    out = tmp_path / 'ckpt'
    assert _run(tool, zoo, out) == 1
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and 'damaged or altered' in err
    assert zoo['name'][-12:-4] in err
    assert not out.exists() or os.listdir(out) == []


def test_truncated_download_is_refused(tool, zoo, tmp_path, capsys):
    out = tmp_path / 'ckpt'
    assert _run(tool, zoo, out, '--base-url', zoo['base'] + '/short') == 1
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and 'truncated' in err
    assert os.listdir(out) == []
    # a shortened file served whole: its hash no longer matches its name
    served = zoo['root'] / 'zoo' / zoo['name']
    served.write_bytes(served.read_bytes()[:-100])
    assert _run(tool, zoo, out) == 1
    assert 'damaged or altered' in capsys.readouterr().err


def test_wrong_names_are_refused(tool, zoo, tmp_path, capsys):
    out = tmp_path / 'ckpt'
    assert _run(tool, zoo, out, name=NAME[:-3]) == 1
    err = capsys.readouterr().err.strip()
    assert "no released model named" in err and NAME in err  # closest
    assert _run(tool, zoo, out, name='not_trained_here') == 1
    assert 'no Weights entry' in capsys.readouterr().err
    from mmseg_attnkd.release.download import (DownloadError,
                                               download_checkpoint)
    with pytest.raises(DownloadError, match='not a released file name'):
        download_checkpoint(zoo['base'] + '/zoo/model.pth', str(out))
    assert tool.main(['--list', '--configs-dir', zoo['configs']]) == 0
    assert capsys.readouterr().out.split() == [NAME]


def test_default_base_is_the_repository_folder(zoo, tmp_path, monkeypatch):
    from mmseg_attnkd.release import download
    monkeypatch.delenv(download.BASE_URL_ENV, raising=False)
    repo = zoo['root']  # a repository whose zoo/ folder holds the file
    url = download.resolve_weights_url(f'zoo/{zoo["name"]}',
                                       download.default_base_url(str(repo)))
    assert url.startswith('file://')
    path = download.download_checkpoint(url, str(tmp_path / 'ckpt'))
    assert osp.basename(path) == zoo['name']
    monkeypatch.setenv(download.BASE_URL_ENV, zoo['base'])
    assert download.default_base_url(str(repo)) == zoo['base']
    assert download.resolve_weights_url('http://h/x.pth', 'file:///r') == \
        'http://h/x.pth'
