"""`pip install ./python` (after the build): the pure-Python package plus
the C API library it loads, copied from build/capi/libtessel.so (or
$TESSEL_LIBRARY). Nothing is compiled here, so one install serves every
Python and PyTorch version; PyTorch itself is the caller's (Debian's
python3-torch, or pip's)."""

import os
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


class BuildPy(build_py):
    def run(self):
        super().run()
        lib = pathlib.Path(os.environ.get(
            "TESSEL_LIBRARY", HERE.parent / "build" / "capi" / "libtessel.so"))
        if not lib.is_file():
            raise SystemExit(
                "tessel: {} not found: build tessel first (bash scripts/setup.sh, "
                "or ninja -C build tessel_capi) or set TESSEL_LIBRARY".format(lib))
        target = pathlib.Path(self.build_lib) / "tessel" / "libtessel.so"
        shutil.copy(lib, target)


setup(
    name="tessel",
    version="0.1.0",
    description="Lightning Attention-2 and simple GLA from tessel's DSL kernels, "
                "on torch tensors with autograd",
    packages=["tessel"],
    python_requires=">=3.9",
    cmdclass={"build_py": BuildPy},
)
