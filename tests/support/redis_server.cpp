#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace ditto::test {
namespace {

using namespace std::chrono_literals;

/// One blocking PING with short socket timeouts. Any reply counts, `-NOAUTH` included: it
/// only has to show that the server is up.
bool answers_ping(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return false;
    }
    timeval tv{};
    tv.tv_usec = 200'000;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        static constexpr char ping[] = "*1\r\n$4\r\nPING\r\n";
        char c = 0;
        ok = ::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == sizeof ping - 1 &&
             ::recv(fd, &c, 1, 0) == 1 && (c == '+' || c == '-');
    }
    ::close(fd);
    return ok;
}

}  // namespace

int pick_free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        throw std::runtime_error("socket() failed");
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        throw std::runtime_error("could not pick a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

redis_server::redis_server(options opt) : opt_(std::move(opt)) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        const int tls_port = opt_.tls_cert.empty() ? 0 : pick_free_port();
        if (launch(pick_free_port(), tls_port, 5s)) {
            return;
        }
    }
    throw std::runtime_error("redis-server did not start:\n" + proc_.stdout_text() +
                             proc_.stderr_text());
}

redis_server::~redis_server() {
    // A stopped process dies of SIGKILL too; child_process sends it.
    proc_.signal(SIGCONT);
}

std::string redis_server::url(int db) const {
    std::string auth = opt_.password.empty() ? "" : ":" + opt_.password + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

std::string redis_server::tls_url(int db, const std::string& userinfo) const {
    std::string auth = !userinfo.empty()       ? userinfo + "@"
                       : opt_.password.empty() ? ""
                                               : ":" + opt_.password + "@";
    return "rediss://" + auth + "127.0.0.1:" + std::to_string(tls_port_) + "/" + std::to_string(db);
}

bool redis_server::launch(int port, int tls_port, std::chrono::milliseconds timeout) {
    const bool keep = !opt_.data_dir.empty();
    std::vector<std::string> args = {
        "--port",       std::to_string(port),
        "--bind",       "127.0.0.1",
        "--save",       "",
        "--appendonly", keep ? "yes" : "no",
        "--dir",        keep ? opt_.data_dir : scratch_.path().string(),
        "--logfile",    ""};
    if (keep)
        args.insert(args.end(), {"--appendfsync", "always"});
    if (!opt_.password.empty()) {
        args.insert(args.end(), {"--requirepass", opt_.password});
    }
    if (opt_.debug_command)
        args.insert(args.end(), {"--enable-debug-command", "local"});
    if (tls_port != 0) {
        args.insert(args.end(), {"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                                 opt_.tls_cert, "--tls-key-file", opt_.tls_key,
                                 "--tls-auth-clients", opt_.tls_auth_clients ? "yes" : "no"});
        if (!opt_.tls_ca.empty())
            args.insert(args.end(), {"--tls-ca-cert-file", opt_.tls_ca});
    }
    args.insert(args.end(), opt_.extra.begin(), opt_.extra.end());
    proc_ = child_process{};
    proc_.start(opt_.path, args);
    port_ = port;
    tls_port_ = tls_port;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        // Checked before each PING: a server that lost the port race has exited, and
        // whatever answers on the port then is not ours.
        if (!proc_.running()) {
            return false;
        }
        if (answers_ping(port)) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    proc_.signal(SIGKILL);
    proc_.wait_exit(5s);
    return false;
}

void redis_server::kill() {
    proc_.signal(SIGCONT);
    proc_.signal(SIGKILL);
    proc_.wait_exit(5s);
}

void redis_server::stop() {
    proc_.signal(SIGCONT);
    proc_.signal(SIGTERM);
    if (!proc_.wait_exit(5s)) {
        kill();
    }
}

void redis_server::pause() {
    proc_.signal(SIGSTOP);
}

void redis_server::resume() {
    proc_.signal(SIGCONT);
}

void redis_server::restart() {
    if (proc_.running()) {
        stop();
    }
    // The same port: clients reconnect to the address they were given. It can take a
    // moment for the kernel to let go of it, hence the retries.
    for (int attempt = 0; attempt < 20; ++attempt) {
        if (launch(port_, tls_port_, 5s)) {
            return;
        }
        std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_));
}

bool redis_server::running() {
    return proc_.running();
}

}  // namespace ditto::test
