# lit configuration: IR round-trips, verifier diagnostics, pass tests and CLI
# checks, run with tessel-opt / tessel and FileCheck.
import os
import lit.formats

config.name = "tessel"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tessel_obj_root, "tests")
config.excludes = ["unit", "gpu", "scripts", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
config.environment["PATH"] = os.pathsep.join([
    os.path.join(config.tessel_obj_root, "tools"),
    config.llvm_tools_dir,
    config.environment.get("PATH", os.environ.get("PATH", "")),
])
config.substitutions.append(("%cuda_bin", "/usr/local/cuda/bin"))
config.substitutions.append(("%scripts", os.path.join(config.test_source_root, "scripts")))
if os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
