// `tessel tune lightning` (sweeps with a progress bar and a final table,
// sharded over --devices) and `tessel cache ls|show|clear`.
#ifndef TESSEL_TOOLS_TUNECOMMAND_H
#define TESSEL_TOOLS_TUNECOMMAND_H

#include <string>
#include <vector>

namespace tessel {

struct TuneCommandOptions {
  /// "B,N,H,D[,E]" each.
  std::vector<std::string> shapes{"4,8192,16,128"};
  std::string dtype = "bf16";
  std::string layout = "bnhd";
  /// "fwd", "bwd" or "all".
  std::string passes = "all";
  /// "all" or ordinals "0,1".
  std::string devices = "all";
  /// Interpreter stand-ins instead of GPUs (always so without a GPU).
  bool interpreter = false;
  bool initialState = false, finalState = false;
  int warmup = 3, reps = 10;
  /// Sweep even when the cache has a winner.
  bool force = false;
  /// Write every record as JSON here.
  std::string json;
};

int runTune(const TuneCommandOptions &options);

/// `tessel cache ls` / `show <digest prefix>` / `clear`.
int runCacheCommand(const std::string &action, const std::string &digest);

} // namespace tessel

#endif // TESSEL_TOOLS_TUNECOMMAND_H
