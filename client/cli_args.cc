#include "client/cli_args.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace style {
namespace {

constexpr size_t kMaxOptionColumn = 32;
constexpr size_t kLineWidth = 100;

const OptionSpec* FindOption(const std::vector<OptionSpec>& options, const std::string& name) {
  for (const OptionSpec& option : options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

std::string OptionSynopsis(const OptionSpec& option) {
  std::string text = absl::StrCat("--", option.name);
  if (!option.value_name.empty()) absl::StrAppend(&text, " ", option.value_name);
  return text;
}

// Splits `text` at spaces into lines of at most `width` characters (longer words stay whole).
std::vector<std::string> WrapWords(const std::string& text, size_t width) {
  std::vector<std::string> lines(1);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!lines.back().empty() && lines.back().size() + 1 + word.size() > width)
      lines.emplace_back();
    if (!lines.back().empty()) lines.back() += ' ';
    absl::StrAppend(&lines.back(), word);
  }
  return lines;
}

}  // namespace

bool ParsedArgs::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> ParsedArgs::GetList(const std::string& name) const {
  if (!Has(name)) return {};
  return absl::StrSplit(Get(name), ',', absl::SkipEmpty());
}

absl::StatusOr<int64_t> ParsedArgs::GetInt(const std::string& name, int64_t fallback, int64_t min,
                                           int64_t max) const {
  if (!Has(name)) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(Get(name), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", Get(name), "\" is not an integer"));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", value, " is outside ", min, "..", max));
  }
  return value;
}

absl::StatusOr<double> ParsedArgs::GetDouble(const std::string& name, double fallback, double min,
                                             double max) const {
  if (!Has(name)) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(Get(name), &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": \"", Get(name), "\" is not a number"));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": ", Get(name), " is outside [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<ParsedArgs> ParseCommandArgs(const std::vector<OptionSpec>& options,
                                            const std::vector<std::string>& args,
                                            bool stop_at_positional) {
  ParsedArgs parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i) parsed.AddPositional(args[i]);
      break;
    }
    if (arg == "-h" || arg == "--help") {
      parsed.set_help(true);
      return parsed;
    }
    if (absl::StartsWith(arg, "--")) {
      const size_t equals = arg.find('=');
      const std::string name =
          arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
      const OptionSpec* option = FindOption(options, name);
      if (option == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
      if (option->value_name.empty()) {
        if (equals != std::string::npos) {
          return absl::InvalidArgumentError(absl::StrCat("option --", name, " takes no value"));
        }
        parsed.Set(name, "true");
        continue;
      }
      std::string value;
      if (equals != std::string::npos) {
        value = arg.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " needs a value (", option->value_name, ")"));
      }
      if (option->repeatable && parsed.Has(name))
        value = absl::StrCat(parsed.Get(name), ",", value);
      parsed.Set(name, value);
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", arg));
    }
    if (stop_at_positional) {
      for (; i < args.size(); ++i) parsed.AddPositional(args[i]);
      break;
    }
    parsed.AddPositional(arg);
  }
  return parsed;
}

absl::StatusOr<ParsedArgs> ParseCommand(const CommandSpec& command,
                                        const std::vector<OptionSpec>& global_options,
                                        const std::vector<std::string>& args) {
  std::vector<OptionSpec> options = command.options;
  options.insert(options.end(), global_options.begin(), global_options.end());
  absl::StatusOr<ParsedArgs> parsed = ParseCommandArgs(options, args, false);
  if (!parsed.ok() || parsed->help()) return parsed;
  const int count = static_cast<int>(parsed->positionals().size());
  if (count < command.min_positionals) {
    return absl::InvalidArgumentError(
        absl::StrCat(command.name, ": missing argument ", command.positional_usage));
  }
  if (count > command.max_positionals) {
    return absl::InvalidArgumentError(absl::StrCat(command.name, ": unexpected argument \"",
                                                   parsed->positionals()[command.max_positionals],
                                                   "\""));
  }
  return parsed;
}

std::string OptionsHelp(const std::vector<OptionSpec>& options) {
  size_t column = 0;
  for (const OptionSpec& option : options) {
    column = std::max(column, OptionSynopsis(option).size());
  }
  column = std::min(column, kMaxOptionColumn);
  std::string text;
  for (const OptionSpec& option : options) {
    const std::string synopsis = OptionSynopsis(option);
    std::string help = option.help;
    if (!option.default_text.empty())
      absl::StrAppend(&help, " (default: ", option.default_text, ")");
    const std::string indent(column + 4, ' ');
    const std::vector<std::string> lines = WrapWords(help, kLineWidth - indent.size());
    absl::StrAppend(&text, "  ", synopsis);
    if (synopsis.size() > column) {
      absl::StrAppend(&text, "\n", indent);
    } else {
      absl::StrAppend(&text, std::string(column - synopsis.size() + 2, ' '));
    }
    absl::StrAppend(&text, lines[0], "\n");
    for (size_t i = 1; i < lines.size(); ++i) absl::StrAppend(&text, indent, lines[i], "\n");
  }
  return text;
}

std::string CommandUsage(const std::string& program, const CommandSpec& command,
                         const std::vector<OptionSpec>& global_options) {
  std::string text = absl::StrCat("usage: ", program, " ", command.name);
  if (!command.options.empty()) absl::StrAppend(&text, " [options]");
  if (!command.positional_usage.empty()) absl::StrAppend(&text, " ", command.positional_usage);
  absl::StrAppend(&text, "\n\n", command.summary, "\n");
  if (!command.options.empty())
    absl::StrAppend(&text, "\noptions:\n", OptionsHelp(command.options));
  if (!global_options.empty()) {
    absl::StrAppend(&text, "\nglobal options:\n", OptionsHelp(global_options));
  }
  return text;
}

}  // namespace style
