// oodscore: out-of-distribution detection scores and reports for TorchScript classifiers.
// An ordinary executable without LibTorch: the model code, and LibTorch with it, is loaded
// only when a command runs a model (src/model/model_loader.cc).
#include <malloc.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "base/json_text.h"
#include "base/suggest.h"
#include "base/version.h"
#include "cli/cli.h"
#include "oodscore/error.h"
#include "oodscore/model.h"

int main(int argc, char** argv) {
  // Batched inference allocates and frees large tensors every batch; keep them in the heap
  // instead of mapping and unmapping pages each time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);

  oodscore::SetCommandLine(argc, argv);
  auto logger = spdlog::stderr_color_mt("oodscore");
  logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_default_logger(logger);

  CLI::App app{
      "oodscore: out-of-distribution detection with the energy score (Liu et al., 2020), its\n"
      "fine-tuning, and the MSP, GEN, ODIN and feature-space (ReAct, ASH, Mahalanobis, KNN, ViM)\n"
      "baselines, for TorchScript image classifiers."};
  app.footer(oodscore::ScoreConventions());
  app.formatter(oodscore::RequiredFirstFormatter());
  app.require_subcommand(1);
  // The version, the commit it was built from, and the LibTorch its model library loads (the
  // library is opened for it: what a run would use, not what the build saw).
  app.set_version_flag("--version", [] {
    std::string text = std::string("oodscore ") + oodscore::ToolVersion();
    const std::string commit = oodscore::GitCommit();
    text += commit.empty() ? " (commit unknown: built outside a git checkout)"
                           : " (commit " + commit + ")";
    try {
      text += "\nLibTorch " + oodscore::TorchVersion() + ", CUDA " +
              (oodscore::CudaAvailable() ? "available"
                                         : "not available (CPU-only LibTorch, or no GPU)");
    } catch (const std::exception& e) {
      text += "\nLibTorch: the model library does not load: " + std::string(e.what());
    }
    return text;
  });
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "debug logging on stderr");
  app.add_flag("-q,--quiet", quiet, "only warnings and errors on stderr; no progress");
  app.fallthrough();

  int exit_code = oodscore::kExitOk;
  oodscore::SetupScoreCommand(&app, &exit_code);
  oodscore::SetupEvalCommand(&app, &exit_code);
  oodscore::SetupCalibrateCommand(&app, &exit_code);
  oodscore::SetupMetricsCommand(&app, &exit_code);
  oodscore::SetupFinetuneCommand(&app, &exit_code);
  oodscore::SetupFitCommand(&app, &exit_code);
  oodscore::SetupCompareCommand(&app, &exit_code);
  oodscore::SetupHelpCommand(&app);
  oodscore::SetupInstallFilesCommand(&app, &exit_code);
  app.parse_complete_callback([&] {
    spdlog::set_level(verbose ? spdlog::level::debug
                      : quiet ? spdlog::level::warn
                              : spdlog::level::info);
  });

  // The first word that is not an option must be a command: a typo gets a suggestion
  // instead of CLI11's "argument was not expected".
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    std::vector<std::string> names;
    for (const CLI::App* s : app.get_subcommands({})) names.push_back(s->get_name());
    if (std::find(names.begin(), names.end(), word) == names.end()) {
      spdlog::error("unknown command '{}'{} (commands: {}; see oodscore --help)", word,
                    oodscore::DidYouMeanClause(word, names), oodscore::JoinNames(names));
      return oodscore::kExitUsage;
    }
    // A mistyped option is named before CLI11 complains of what it left out.
    const std::string unknown = oodscore::UnknownOptionText(
        app.get_subcommand(word), std::vector<std::string>(argv + i + 1, argv + argc));
    if (!unknown.empty()) {
      spdlog::error("{}", unknown);
      return oodscore::kExitUsage;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // Options were checked before parsing: what is left are words no option takes.
    const std::vector<CLI::App*> used = app.get_subcommands();
    std::string words = e.what();
    words = words.substr(words.find(':') + 1);
    spdlog::error(
        "oodscore{}: unexpected argument(s){}: each option takes one value (quote a value with "
        "spaces){}",
        used.empty() ? "" : " " + used.front()->get_name(), words,
        used.empty() ? "" : "; oodscore " + used.front()->get_name() + " --help lists its options");
    return oodscore::kExitUsage;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return oodscore::kExitUsage;
  } catch (const oodscore::Error& e) {
    spdlog::error("{}", e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    // Sizes from files are checked before allocating; what is left is a real shortage.
    spdlog::error(
        "out of memory: this run needs more memory than the machine gives it (fewer or smaller "
        "inputs, or a smaller --batch-size, need less)");
    return oodscore::kExitInput;
  } catch (const nlohmann::json::exception& e) {
    spdlog::error("unexpected JSON content: {}", oodscore::JsonErrorText(e));
    return oodscore::kExitInput;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return oodscore::kExitInput;
  }
  return exit_code;
}
