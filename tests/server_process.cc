#include "tests/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"

extern char** environ;

namespace style::testing {

int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

int64_t ResidentKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    int64_t kib = -1;
    fields >> kib;
    return kib;
  }
  return -1;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(const std::string& binary,
                                                                    const std::vector<std::string>& args,
                                                                    const std::string& log_path, bool metrics,
                                                                    absl::Duration timeout) {
  std::unique_ptr<ServerProcess> server(new ServerProcess());
  server->log_path_ = log_path;
  server->port_ = PickFreePort();
  server->metrics_port_ = metrics ? PickFreePort() : 0;
  if (server->port_ == 0 || (metrics && server->metrics_port_ == 0)) {
    return absl::UnavailableError("no free loopback port");
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  argv_strings.push_back(absl::StrCat("--listen=127.0.0.1:", server->port_));
  argv_strings.push_back(metrics ? absl::StrCat("--metrics_listen=127.0.0.1:", server->metrics_port_)
                                 : std::string("--metrics_listen="));
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // The child must get SIGTERM even if this process blocks it in some thread.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  const int error = posix_spawn(&server->pid_, binary.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return absl::UnavailableError(absl::StrCat("cannot start ", binary, ": ", std::strerror(error)));

  ClientOptions options;
  options.addresses = {server->address()};
  options.max_attempts = 1;
  options.deadline = absl::Seconds(1);
  auto client = StyleClient::Create(options);
  if (!client.ok()) return client.status();
  const absl::Time give_up = absl::Now() + timeout;
  for (;;) {
    auto health = (*client)->Health();
    if (health.ok() && *health == grpc::health::v1::HealthCheckResponse::SERVING) return server;
    if (auto exited = server->Wait(absl::ZeroDuration()); exited.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the server exited with ", *exited, " while starting:\n", server->LogTail()));
    }
    if (absl::Now() > give_up) {
      return absl::UnavailableError(absl::StrCat("the server was not SERVING after ", absl::FormatDuration(timeout),
                                                 ":\n", server->LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    (void)Wait(absl::Seconds(10));
  }
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

absl::Status ServerProcess::Signal(int signal_number) const {
  if (exited_) return absl::FailedPreconditionError("the server has exited");
  if (kill(pid_, signal_number) != 0) return absl::InternalError(std::strerror(errno));
  return absl::OkStatus();
}

absl::StatusOr<int> ServerProcess::Wait(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!exited_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (done < 0) return absl::InternalError(std::strerror(errno));
    if (absl::Now() >= give_up) return absl::DeadlineExceededError("the server is still running");
    absl::SleepFor(absl::Milliseconds(5));
  }
  return exit_code_;
}

std::string ServerProcess::LogTail(size_t bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  const std::string log = out.str();
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

}  // namespace style::testing
