// Fatal errors and the process exit codes they map to.
//
// Library code throws oodscore::Error (or UsageError) for conditions that end the
// run; main() catches it once and exits with the error's code. Per-item failures
// (one unreadable image among thousands) are values, not exceptions.
#ifndef OODSCORE_ERROR_H_
#define OODSCORE_ERROR_H_

#include <stdexcept>
#include <string>

namespace oodscore {

// Exit codes, the same for every command.
enum ExitCode : int {
  kExitOk = 0,
  kExitGateFailed = 1,  // a --gate or --baseline check failed (reports are still written)
  kExitUsage = 2,       // bad command line (CLI11 parse errors map here too)
  kExitInput = 3,       // bad input file, bad model, I/O failure
};

// A fatal error. The message is lowercase, names the file/line/value at fault and,
// where a shape or type is wrong, says what was got and what was expected.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = kExitInput)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// A fatal error in how the tool was invoked (exit code 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message, kExitUsage) {}
};

}  // namespace oodscore

#endif  // OODSCORE_ERROR_H_
