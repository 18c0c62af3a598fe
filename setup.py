"""pip install . : builds the pysyncq Python package with CMake (offline, Debian's tools).

    python3 -m venv --system-site-packages /tmp/venv
    /tmp/venv/bin/pip install --no-build-isolation --no-index .

The extension is the CMake target pysyncq_python (python/CMakeLists.txt), built in
build-pip/ (incremental on re-install) with warnings not fatal: a user's compiler may
warn where CI's does not. PYSYNCQ_PREBUILT_DIR=<cmake build dir> packages the extension
that `make` already built there instead of compiling again (the packaging test uses it).
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
# The one version (CMakeLists.txt checks that its project version is the same).
VERSION = re.search(r'^__version__ = "([^"]+)"',
                    (ROOT / "python" / "pysyncq" / "__init__.py").read_text(), re.M).group(1)
EXTENSION_FILE = "_pysyncq" + sysconfig.get_config_var("EXT_SUFFIX")


class CMakeExtension(Extension):
    """An extension whose sources CMake knows; setuptools only places the result."""

    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Builds the extension with CMake (or takes a prebuilt one) and copies it in place."""

    def build_extension(self, ext):
        target = pathlib.Path(self.get_ext_fullpath(ext.name)).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        prebuilt = os.environ.get("PYSYNCQ_PREBUILT_DIR")
        if prebuilt:
            source = pathlib.Path(prebuilt).resolve() / "python" / "pysyncq" / EXTENSION_FILE
            if not source.exists():
                raise RuntimeError(f"PYSYNCQ_PREBUILT_DIR: no {source} (run make first)")
        else:
            build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
            configure = [
                "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Unix Makefiles",
                f"-DPYTHON_EXECUTABLE={sys.executable}", f"-DPython_EXECUTABLE={sys.executable}",
                "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF", "-DPYSYNCQ_WERROR=OFF",
                "-DPYSYNCQ_PYTHON=ON",
            ]
            subprocess.run(configure, check=True)
            subprocess.run(["cmake", "--build", str(build_dir), "--target", "pysyncq_python",
                            "-j", str(os.cpu_count() or 1)], check=True)
            source = build_dir / "python" / "pysyncq" / EXTENSION_FILE
        shutil.copyfile(source, target)


setup(
    name="pysyncq",
    version=VERSION,
    description="Broadcast synchronisation queue between processes in shared memory "
                "(C++20 core; drop-in replacement for the original pure-Python pysyncq)",
    python_requires=">=3.9",
    package_dir={"": "python"},
    packages=["pysyncq"],
    package_data={"pysyncq": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("pysyncq._pysyncq")],
    cmdclass={"build_ext": CMakeBuild},
    # Not build/: that is the Makefile's CMake tree.
    options={"build": {"build_base": "build-pip"}},
    zip_safe=False,
)
