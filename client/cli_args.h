// The command-line parser of the styletransfer CLI: subcommands, each with its own options, in
// GNU long form ("--name=value" or "--name value"), plus "-h"/"--help" and "--" (end of options).
#ifndef STYLE_CLIENT_CLI_ARGS_H_
#define STYLE_CLIENT_CLI_ARGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace style {

// One option of a command.
struct OptionSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // "FILE", "N", ...; empty for a flag (an option without a value)
  std::string help;
  std::string default_text;  // shown in the usage; empty = no default
  bool repeatable = false;   // given several times, the values are joined with ','
};

// A command: its options and its positional arguments.
struct CommandSpec {
  std::string name;              // "stylize", "styles register", ...
  std::string positional_usage;  // "FILE", "ID", ""...
  std::string summary;
  std::vector<OptionSpec> options;
  int min_positionals = 0;
  int max_positionals = 0;
};

// The result of parsing one command's arguments.
class ParsedArgs {
 public:
  // True when the option was given (a flag, or an option with any value).
  bool Has(const std::string& name) const;
  // The option's value, or `fallback` when it was not given.
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // The value split at commas (empty pieces dropped); empty when the option was not given.
  std::vector<std::string> GetList(const std::string& name) const;
  // Parsed numeric values, `fallback` when absent. INVALID_ARGUMENT when the value is not a
  // number or lies outside [min, max].
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t fallback, int64_t min,
                                 int64_t max) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double fallback, double min,
                                   double max) const;

  const std::vector<std::string>& positionals() const { return positionals_; }
  bool help() const { return help_; }

  // Used by the parser: a later Set replaces an earlier value.
  void Set(const std::string& name, const std::string& value) { values_[name] = value; }
  void AddPositional(const std::string& value) { positionals_.push_back(value); }
  void set_help(bool help) { help_ = help; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  bool help_ = false;
};

// Parses `args` against `options`. With `stop_at_positional`, parsing ends at the first
// positional argument, which (with everything after it) is returned in positionals() unparsed;
// otherwise options and positionals may be interleaved. "-h"/"--help" sets help() and stops.
// INVALID_ARGUMENT on an unknown option, a missing value, or a value given to a flag.
absl::StatusOr<ParsedArgs> ParseCommandArgs(const std::vector<OptionSpec>& options,
                                            const std::vector<std::string>& args,
                                            bool stop_at_positional);

// Parses a command's arguments (its options plus `global_options`) and checks the number of
// positionals (unless help was asked for). INVALID_ARGUMENT on errors.
absl::StatusOr<ParsedArgs> ParseCommand(const CommandSpec& command,
                                        const std::vector<OptionSpec>& global_options,
                                        const std::vector<std::string>& args);

// The usage text of `command` as run by `program`, listing every option with its default.
std::string CommandUsage(const std::string& program, const CommandSpec& command,
                         const std::vector<OptionSpec>& global_options);

// The options table alone, one line per option, aligned.
std::string OptionsHelp(const std::vector<OptionSpec>& options);

}  // namespace style

#endif  // STYLE_CLIENT_CLI_ARGS_H_
