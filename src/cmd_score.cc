// oodscore score: a model and inputs in, one row of scores per sample out.
#include "cli.h"
#include "oodscore/error.h"
#include "scoring.h"

namespace oodscore {

namespace {

struct ScoreCommand {
  ScoringOptions scoring;
  std::vector<std::string> inputs;
  std::string output = "-";
  std::string card;
};

int RunScore(const ScoreCommand& cmd) {
  std::optional<DetectorCard> card;
  if (!cmd.card.empty()) card = ReadCard(cmd.card);
  auto sets = LoadInputs(cmd.inputs);
  RunScoring(cmd.scoring, sets, cmd.output, /*keep_rows=*/false, card);
  return kExitOk;
}

}  // namespace

void SetupScoreCommand(CLI::App* app, int* exit_code) {
  auto cmd = std::make_shared<ScoreCommand>();
  CLI::App* sub =
      app->add_subcommand("score",
                          "score images with a TorchScript classifier: one CSV row per image "
                          "(set,path,label,pred,energy,msp,maxlogit,...)");
  AddScoringOptions(sub, &cmd->scoring);
  sub->add_option("--input,-i", cmd->inputs,
                  "[NAME=]PATH: an image folder (ImageFolder layout or flat), a list file (- = "
                  "stdin) or a .npy [N,C,H,W] float32 tensor; repeatable")
      ->required();
  sub->add_option("--output,-o", cmd->output, "score CSV path, or - for stdout")
      ->capture_default_str();
  sub->add_option("--card", cmd->card,
                  "detector card (from calibrate/eval): adds an is_ood column");
  sub->footer(kScoreConventions);
  sub->callback([cmd, exit_code, app] {
    cmd->scoring.quiet = app->get_option("--quiet")->as<bool>();
    *exit_code = RunScore(*cmd);
  });
}

}  // namespace oodscore
