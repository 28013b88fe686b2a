#include "support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace ditto::test {
namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string temp_path(const char* tag) {
    static std::atomic<int> seq{0};
    return "/tmp/ditto-test-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + "-" +
           tag;
}

}  // namespace

child_process::~child_process() {
    if (pid_ > 0 && !exit_code_) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (!out_path_.empty())
        ::unlink(out_path_.c_str());
    if (!err_path_.empty())
        ::unlink(err_path_.c_str());
}

child_process::child_process(child_process&& o) noexcept {
    *this = std::move(o);
}

child_process& child_process::operator=(child_process&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(exit_code_, o.exit_code_);
    std::swap(out_path_, o.out_path_);
    std::swap(err_path_, o.err_path_);
    return *this;
}

namespace {

// DITTO_TEST_REDIS_LAYOUT=1 runs every gateway a Redis suite starts on that key layout (the
// default is 2; tests/CMakeLists.txt registers the Redis suites once per layout; docs/redis.md).
std::vector<std::string> with_redis_layout(const std::string& path, std::vector<std::string> args) {
    const char* layout = std::getenv("DITTO_TEST_REDIS_LAYOUT");
    if (layout == nullptr || !path.ends_with("ditto-gateway"))
        return args;
    const bool redis = std::any_of(args.begin(), args.end(), [](const std::string& a) {
        return a == "--redis" || a == "--redis-env";
    });
    const bool chosen = std::find(args.begin(), args.end(), "--redis-layout") != args.end();
    if (redis && !chosen) {
        args.emplace_back("--redis-layout");
        args.emplace_back(layout);
    }
    return args;
}

}  // namespace

void child_process::start(const std::string& path, const std::vector<std::string>& given_args,
                          const std::vector<std::pair<std::string, std::string>>& env) {
    const auto args = with_redis_layout(path, given_args);
    out_path_ = temp_path("out");
    err_path_ = temp_path("err");
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = ::open("/dev/null", O_RDONLY);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        for (const auto& [k, v] : env)
            ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(path.c_str()));
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(path.c_str(), argv.data());
        ::_exit(127);
    }
}

bool child_process::running() {
    if (pid_ <= 0 || exit_code_)
        return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
    }
    return true;
}

std::optional<std::string> child_process::wait_for_stderr(const std::string& needle,
                                                          std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::istringstream lines(read_file(err_path_));
        std::string line;
        while (std::getline(lines, line)) {
            if (line.find(needle) != std::string::npos)
                return line;
        }
        if (!running() || std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::optional<int> child_process::wait_for_port(std::chrono::milliseconds timeout) {
    auto line = wait_for_stderr("listening on http://", timeout);
    if (!line)
        return std::nullopt;
    static const std::regex re(R"(listening on http://[^ "]*:(\d+))");
    std::smatch m;
    if (!std::regex_search(*line, m, re))
        return std::nullopt;
    return std::stoi(m[1].str());
}

std::string child_process::stdout_text() const {
    return read_file(out_path_);
}
std::string child_process::stderr_text() const {
    return read_file(err_path_);
}

void child_process::signal(int sig) {
    if (pid_ > 0 && !exit_code_)
        ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_code_;
}

run_result run_to_exit(const std::string& path, const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout,
                       const std::vector<std::pair<std::string, std::string>>& env) {
    child_process p;
    p.start(path, args, env);
    run_result r;
    auto code = p.wait_exit(timeout);
    r.exit_code = code ? *code : -1;
    r.out = p.stdout_text();
    r.err = p.stderr_text();
    return r;
}

}  // namespace ditto::test
