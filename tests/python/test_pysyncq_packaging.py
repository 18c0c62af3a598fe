"""`pip install .` works offline for Debian's python3 and gives the same package.

Installs into a fresh venv (--system-site-packages, --no-build-isolation, no index),
then imports the installed package from elsewhere and uses it. The extension is taken
from the build tree under test (PYSYNCQ_PREBUILT_DIR) so this takes seconds; setup.py's
own CMake build runs when that variable is unset (`pip install .` by a user)."""

import os
import pathlib
import subprocess
import textwrap

import pytest

import pysyncq

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"

CHECK = textwrap.dedent('''
    import sys, pysyncq
    from pysyncq import pysyncq as pq
    assert pysyncq.__file__.startswith(sys.argv[1]), pysyncq.__file__
    q = pq.PySyncQ(sys.argv[2])
    q.open("me", filtself=False)
    q.append("t", "installed")
    assert q.pop() == ("me", "t", "installed")
    q.close()
    import importlib.resources as r
    assert r.files("pysyncq").joinpath("py.typed").is_file()
    assert r.files("pysyncq").joinpath("__init__.pyi").is_file()
    print("ok")
''')


@pytest.mark.packaging
def test_pip_install_into_a_venv_works_offline(tmp_path, queue_name, shm_exists):
    build_tree = pathlib.Path(pysyncq.__file__).resolve().parents[2]
    if not (build_tree / "CMakeCache.txt").exists():
        pytest.skip(f"pysyncq under test is not from a CMake build tree ({build_tree})")
    venv = tmp_path / "venv"
    subprocess.run([PYTHON, "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   timeout=120)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYSYNCQ_PREBUILT_DIR=str(build_tree))
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-build-isolation",
         "--no-index", "--no-deps", str(ROOT)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = venv / "lib"
    checked = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK, str(site), queue_name],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout == "ok\n", checked.stderr
    assert not shm_exists(queue_name)
