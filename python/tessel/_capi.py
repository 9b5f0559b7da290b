"""ctypes view of capi/tessel.h: the structs, the functions, and where
libtessel.so is found. Nothing here is compiled per Python or PyTorch
version: the library is tessel's own C API."""

import ctypes
import os
import pathlib

API_VERSION = 3

BF16, F16, F32, I32 = 0, 1, 2, 3
BHND, BNHD = 0, 1
AUTO, GPU, INTERPRETER = 0, 1, 2


class Tensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.c_int64 * 4),
        ("strides", ctypes.c_int64 * 4),
        ("on_device", ctypes.c_int32),
    ]


def _struct(name, tensors, tail):
    fields = [(t, Tensor) for t in tensors] + tail
    return type(name, (ctypes.Structure,), {"_fields_": fields})


_TAIL = [("layout", ctypes.c_int32), ("scale", ctypes.c_float)]
# The CUstream the kernels are queued on (None: the legacy default stream).
_STREAM = [("stream", ctypes.c_void_p)]
ForwardArgs = _struct(
    "ForwardArgs",
    ["q", "k", "v", "o", "slopes", "gates", "initial_state", "final_state",
     "cu_seqlens"],
    _TAIL + [("causal", ctypes.c_int32)] + _STREAM)
BackwardArgs = _struct(
    "BackwardArgs",
    ["q", "k", "v", "d_o", "dq", "dk", "dv", "slopes", "gates", "d_gates",
     "initial_state", "d_initial_state", "d_final_state", "cu_seqlens"],
    _TAIL + [("causal", ctypes.c_int32)] + _STREAM)
DecodeArgs = _struct(
    "DecodeArgs", ["q", "k", "v", "o", "slopes", "gates", "state"],
    _TAIL + _STREAM)


def _candidates():
    env = os.environ.get("TESSEL_LIBRARY")
    if env:
        yield pathlib.Path(env)
        return
    here = pathlib.Path(__file__).resolve().parent
    yield here / "libtessel.so"  # copied in by `pip install ./python`
    # A source checkout: python/tessel -> <repo>/build/capi.
    yield here.parent.parent / "build" / "capi" / "libtessel.so"


def load():
    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            break
    else:
        raise ImportError(
            "tessel: libtessel.so not found (tried {}); build tessel "
            "(scripts/setup.sh) or set TESSEL_LIBRARY".format(", ".join(tried)))
    lib.tessel_api_version.restype = ctypes.c_int32
    if lib.tessel_api_version() != API_VERSION:
        raise ImportError(
            "tessel: {} has C API version {}, this package expects {}".format(
                path, lib.tessel_api_version(), API_VERSION))
    lib.tessel_last_error.restype = ctypes.c_char_p
    lib.tessel_context_create.restype = ctypes.c_void_p
    lib.tessel_context_create.argtypes = [ctypes.c_int32] * 3
    lib.tessel_context_destroy.argtypes = [ctypes.c_void_p]
    for fn, args in [("tessel_lightning_forward", ForwardArgs),
                     ("tessel_lightning_backward", BackwardArgs),
                     ("tessel_lightning_decode", DecodeArgs)]:
        f = getattr(lib, fn)
        f.restype = ctypes.c_int32
        f.argtypes = [ctypes.c_void_p, ctypes.POINTER(args)]
    for fn, n in [("tessel_srms_norm_forward", 2), ("tessel_srms_norm_backward", 3)]:
        f = getattr(lib, fn)
        f.restype = ctypes.c_int32
        f.argtypes = ([ctypes.c_void_p] + [ctypes.POINTER(Tensor)] * n +
                      [ctypes.c_float, ctypes.c_void_p])
    for fn, args in [("tessel_forward_args_init", ForwardArgs),
                     ("tessel_backward_args_init", BackwardArgs),
                     ("tessel_decode_args_init", DecodeArgs)]:
        f = getattr(lib, fn)
        f.restype = None
        f.argtypes = [ctypes.POINTER(args)]
    return lib
