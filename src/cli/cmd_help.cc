// oodscore help [COMMAND]: the same text as `oodscore [COMMAND] --help`.
#include <iostream>

#include "base/suggest.h"
#include "cli/cli.h"
#include "oodscore/error.h"

namespace oodscore {

void SetupHelpCommand(CLI::App* app) {
  auto command = std::make_shared<std::string>();
  CLI::App* sub = app->add_subcommand("help", "print the help of oodscore or of one command");
  sub->add_option("command", *command, "a command: score, eval, calibrate, metrics, compare, ...");
  sub->callback([app, command] {
    if (command->empty()) {  // the tool's own help (app->help() would show this command's)
      std::cout << app->get_formatter()->make_help(app, app->get_name(),
                                                   CLI::AppFormatMode::Normal);
      return;
    }
    std::vector<std::string> names;
    for (const CLI::App* s : app->get_subcommands({})) {
      if (s->get_name() == *command) {
        std::cout << s->help(app->get_name());
        return;
      }
      names.push_back(s->get_name());
    }
    throw UsageError("unknown command '" + *command + "'" + DidYouMeanClause(*command, names) +
                     " (commands: " + JoinNames(names) + ")");
  });
}

}  // namespace oodscore
