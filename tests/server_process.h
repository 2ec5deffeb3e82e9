// The styletransfer-server binary run as a child process, for tests that need a real process:
// signals, exit codes and resident memory (drain_test, soak_test and the soak tool).
#ifndef STYLE_TESTS_SERVER_PROCESS_H_
#define STYLE_TESTS_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace style::testing {

// A loopback TCP port that was free a moment ago (bound to port 0, then closed); 0 on error.
int PickFreePort();

// VmRSS of process `pid` in KiB, from /proc/PID/status; -1 when it cannot be read.
int64_t ResidentKib(pid_t pid);

class ServerProcess {
 public:
  // Starts `binary` with `args` plus --listen=127.0.0.1:<free port> and --metrics_listen
  // (a free port when `metrics`, else empty), stdout and stderr appended to `log_path`, and
  // waits until its health is SERVING. UNAVAILABLE (with the log's tail) when it exits or
  // `timeout` passes first.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::string& binary,
                                                              const std::vector<std::string>& args,
                                                              const std::string& log_path, bool metrics = false,
                                                              absl::Duration timeout = absl::Minutes(2));
  // Kills the process (SIGKILL) if it is still running.
  ~ServerProcess();

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const;

  // Sends `signal_number` (e.g. SIGTERM).
  absl::Status Signal(int signal_number) const;
  // Waits for the process to exit; returns its exit code (128 + N when killed by signal N),
  // or DEADLINE_EXCEEDED if it is still running after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  bool running() const { return !exited_; }
  int64_t resident_kib() const { return ResidentKib(pid_); }
  // The last `bytes` of the log.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  ServerProcess() = default;

  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string log_path_;
};

}  // namespace style::testing

#endif  // STYLE_TESTS_SERVER_PROCESS_H_
