// oodscore install-files DIR (hidden; run by the build): the files an installation needs
// besides the binaries, made from the tool's own command table so that they cannot drift
// from it: a man page per command (DIR/man/man1/, from the same text as --help), and bash
// and zsh completion (DIR/bash-completion/completions/oodscore, DIR/zsh/vendor-completions/
// _oodscore: commands, flags, and the shipped preset and score names).
#include <algorithm>
#include <filesystem>
#include <set>

#include "base/atomic_file.h"
#include "base/version.h"
#include "cli/cli.h"
#include "oodscore/error.h"
#include "oodscore/preset.h"
#include "oodscore/scores.h"

namespace oodscore {

namespace {

// The commands a user runs (not this one), in the order the app lists them.
std::vector<const CLI::App*> Commands(const CLI::App& app) {
  std::vector<const CLI::App*> out;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!sub->get_group().empty()) out.push_back(sub);  // a hidden command has no group
  }
  return out;
}

// Each option's spellings ("-o", "--output"), in the order the command lists them.
std::vector<std::string> Flags(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : cmd.get_options()) {
    if (!opt->nonpositional()) continue;
    for (const std::string& s : opt->get_snames()) out.push_back("-" + s);
    for (const std::string& l : opt->get_lnames()) out.push_back("--" + l);
  }
  return out;
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> ScoreNames() {
  std::vector<std::string> out;
  for (const ScoreDef& def : ScoreCatalogue()) {
    const std::string name = def.name;
    if (name.find('<') == std::string::npos) out.push_back(name);
  }
  return out;
}

// roff text: a backslash doubled, a line that starts with '.' or '\'' escaped.
std::string Roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    out += c == '\\' ? std::string("\\e") : c == '-' ? std::string("\\-") : std::string(1, c);
    line_start = c == '\n';
  }
  return out;
}

std::string ManPage(const std::string& name, const std::string& summary, const std::string& help,
                    const std::vector<std::string>& see_also) {
  std::string page = ".TH " + name + " 1 \"\" \"oodscore " + ToolVersion() +
                     "\" \"User Commands\"\n.SH NAME\n" + Roff(name) + " \\- " + Roff(summary) +
                     "\n.SH DESCRIPTION\n.nf\n" + Roff(help) + "\n.fi\n";
  if (!see_also.empty()) {
    page += ".SH SEE ALSO\n";
    for (std::size_t i = 0; i < see_also.size(); ++i) {
      page += "\\fB" + Roff(see_also[i]) + "\\fR(1)" + (i + 1 < see_also.size() ? ",\n" : "\n");
    }
  }
  return page;
}

// What both completions offer besides the command table: the tool's own flags, --device's
// and --fpr-convention's values.
const char kToolFlags[] = "--help --version --verbose --quiet";
const char kDevices[] = "cpu cuda auto";
const char kConventions[] = "exact hendrycks openood pytorch-ood";

std::string BashCompletion(const CLI::App& app) {
  std::string cmds, cases;
  for (const CLI::App* cmd : Commands(app)) {
    cmds += (cmds.empty() ? "" : " ") + cmd->get_name();
    cases += "    " + cmd->get_name() + ") opts=\"" + Join(Flags(*cmd)) + "\" ;;\n";
  }
  return "# bash completion for oodscore (made by `oodscore install-files`; do not edit)\n"
         "_oodscore() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
         "  done\n"
         "  case $prev in\n"
         "    --preset) COMPREPLY=($(compgen -W \"" +
         Join(PresetNames()) +
         "\" -f -- \"$cur\")); return ;;\n"
         "    --score|--scores|--lower-is-id|--higher-is-id) COMPREPLY=($(compgen -W \"" +
         Join(ScoreNames()) +
         "\" -- \"$cur\")); return ;;\n"
         "    --device) COMPREPLY=($(compgen -W \"" +
         kDevices +
         "\" -- \"$cur\")); return ;;\n"
         "    --fpr-convention) COMPREPLY=($(compgen -W \"" +
         kConventions +
         "\" -- \"$cur\")); return ;;\n"
         "  esac\n"
         "  if [[ -z $cmd ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         cmds + " " + kToolFlags +
         "\" -- \"$cur\")); return\n"
         "  fi\n"
         "  local opts=\n"
         "  case $cmd in\n" +
         cases +
         "  esac\n"
         "  if [[ $cur == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  elif [[ $cmd == help ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         cmds +
         "\" -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -o filenames -F _oodscore oodscore\n";
}

std::string ZshCompletion(const CLI::App& app) {
  std::string cmds, cases;
  for (const CLI::App* cmd : Commands(app)) {
    std::string about = cmd->get_description();
    about = about.substr(0, about.find(':'));
    std::replace(about.begin(), about.end(), '\'', ' ');
    cmds += "    '" + cmd->get_name() + ":" + about + "'\n";
    cases += "    " + cmd->get_name() + ") opts=(" + Join(Flags(*cmd)) + ") ;;\n";
  }
  // The command is the first word after "oodscore" that is not a flag (--verbose may come
  // first), as in the bash completion.
  return "#compdef oodscore\n"
         "# zsh completion for oodscore (made by `oodscore install-files`; do not edit)\n"
         "local -a subcommands opts\n"
         "local cmd= i\n"
         "subcommands=(\n" +
         cmds +
         ")\n"
         "for (( i = 2; i < CURRENT; i++ )); do\n"
         "  [[ ${words[i]} == -* ]] || { cmd=${words[i]}; break }\n"
         "done\n"
         "case ${words[CURRENT-1]} in\n"
         "  --preset) _alternative 'presets:preset:(" +
         Join(PresetNames()) +
         ")' 'files:file:_files'; return ;;\n"
         "  --score|--scores|--lower-is-id|--higher-is-id) compadd -- " +
         Join(ScoreNames()) +
         "; return ;;\n"
         "  --device) compadd -- " +
         kDevices +
         "; return ;;\n"
         "  --fpr-convention) compadd -- " +
         kConventions +
         "; return ;;\n"
         "esac\n"
         "if [[ -z $cmd ]]; then\n"
         "  if [[ ${words[CURRENT]} == -* ]]; then\n"
         "    compadd -- " +
         kToolFlags +
         "\n"
         "  else\n"
         "    _describe 'command' subcommands\n"
         "  fi\n"
         "  return\n"
         "fi\n"
         "case $cmd in\n" +
         cases +
         "esac\n"
         "if [[ ${words[CURRENT]} == -* ]]; then\n"
         "  compadd -- $opts\n"
         "elif [[ $cmd == help ]]; then\n"
         "  _describe 'command' subcommands\n"
         "else\n"
         "  _files\n"
         "fi\n";
}

int InstallFiles(const CLI::App& app, const std::filesystem::path& dir) {
  const std::filesystem::path man = dir / "man/man1";
  std::filesystem::create_directories(man);
  std::vector<std::string> pages = {"oodscore"};
  for (const CLI::App* cmd : Commands(app)) pages.push_back("oodscore-" + cmd->get_name());
  const auto others = [&](const std::string& self) {
    std::vector<std::string> out;
    for (const std::string& p : pages) {
      if (p != self) out.push_back(p);
    }
    return out;
  };
  const CLI::FormatterBase& format = *app.get_formatter();
  WriteFileAtomic(
      man / "oodscore.1",
      ManPage("oodscore", "out-of-distribution detection scores and reports",
              format.make_help(&app, "oodscore", CLI::AppFormatMode::Normal), others("oodscore")));
  for (const CLI::App* cmd : Commands(app)) {
    const std::string name = "oodscore-" + cmd->get_name();
    WriteFileAtomic(man / (name + ".1"),
                    ManPage(name, cmd->get_description(),
                            cmd->get_formatter()->make_help(cmd, "oodscore " + cmd->get_name(),
                                                            CLI::AppFormatMode::Normal),
                            {"oodscore"}));
  }
  std::filesystem::create_directories(dir / "bash-completion/completions");
  WriteFileAtomic(dir / "bash-completion/completions/oodscore", BashCompletion(app));
  std::filesystem::create_directories(dir / "zsh/vendor-completions");
  WriteFileAtomic(dir / "zsh/vendor-completions/_oodscore", ZshCompletion(app));
  return kExitOk;
}

}  // namespace

void SetupInstallFilesCommand(CLI::App* app, int* exit_code) {
  auto dir = std::make_shared<std::string>();
  CLI::App* sub = app->add_subcommand("install-files", "");
  sub->group("");  // hidden: the build runs it
  sub->add_option("dir", *dir, "where to write man/, bash-completion/ and zsh/")->required();
  sub->callback([app, dir, exit_code] { *exit_code = InstallFiles(*app, *dir); });
}

}  // namespace oodscore
