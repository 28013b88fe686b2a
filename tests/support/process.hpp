#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ditto::test {

/// A child process whose stdout and stderr go to files, killed (SIGKILL) when destroyed if
/// still running. Used to run the real binaries in integration tests.
class child_process {
  public:
    child_process() = default;
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    child_process(child_process&& other) noexcept;
    child_process& operator=(child_process&& other) noexcept;

    /// Starts `path` with `args` (argv[1..]); throws std::runtime_error on failure.
    void start(const std::string& path, const std::vector<std::string>& args,
               const std::vector<std::pair<std::string, std::string>>& env = {});

    pid_t pid() const { return pid_; }
    bool running();

    /// Waits until stderr has a line containing `needle`; returns that line.
    std::optional<std::string> wait_for_stderr(const std::string& needle,
                                               std::chrono::milliseconds timeout);
    /// Port from a "listening on http://HOST:PORT" line.
    std::optional<int> wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    std::string stdout_text() const;
    std::string stderr_text() const;

    void signal(int sig);
    /// Exit code (or 128+signal) once exited within `timeout`; nullopt if still running.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  private:
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::string out_path_;
    std::string err_path_;
};

/// Runs a command to completion (bounded by `timeout`): exit code and captured output.
struct run_result {
    int exit_code = -1;
    std::string out;
    std::string err;
};
run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20),
                       const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace ditto::test
