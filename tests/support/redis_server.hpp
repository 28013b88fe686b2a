#pragma once

// A real redis-server for tests: on a free loopback port, nothing persisted, killed when
// destroyed. Signals let a test make Redis die (kill), hang (pause) or come back (restart).

#include <chrono>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace ditto::test {

/// A loopback port the kernel just handed out: free now, though nothing stops another process
/// from taking it before a server binds it (redis_server then retries with another).
int pick_free_port();

class redis_server {
  public:
    struct options {
        std::string password;  ///< `--requirepass` when not empty
        std::string path = "/usr/bin/redis-server";
        /// When set, data is kept there (append-only file, fsync on every write), so a
        /// killed and restarted server still has it.
        std::string data_dir;
        /// Allows DEBUG (e.g. `DEBUG SLEEP`), which Redis 7 refuses by default.
        bool debug_command = false;
        /// Set: TLS on tls_port() as well, with this certificate and key (PEM). The plain port
        /// stays open for the fixture's own checks and the tests' redis-cli.
        std::string tls_cert;
        std::string tls_key;
        /// The CA client certificates must chain to; `tls_auth_clients` demands one (mTLS).
        std::string tls_ca;
        bool tls_auth_clients = false;
        /// Extra arguments for redis-server (e.g. `--user …` for an ACL user).
        std::vector<std::string> extra;
    };

    /// Starts and waits (at most 5 s) until it answers PING; throws std::runtime_error.
    redis_server() : redis_server(options{}) {}
    explicit redis_server(options opt);
    ~redis_server();
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;

    int port() const { return port_; }
    const std::string& password() const { return opt_.password; }
    /// The TLS port (options::tls_cert set), else 0.
    int tls_port() const { return tls_port_; }
    /// `rediss://[user:pass@]127.0.0.1:TLS_PORT/db`.
    std::string tls_url(int db = 0, const std::string& userinfo = "") const;
    /// `redis://127.0.0.1:PORT/db`, with the password when one is set.
    std::string url(int db = 0) const;

    /// SIGKILL, and waits for the exit: the port is free afterwards.
    void kill();
    /// SIGTERM, and waits for the exit.
    void stop();
    /// SIGSTOP: the port still accepts TCP connections (kernel backlog), nothing answers.
    void pause();
    /// SIGCONT.
    void resume();
    /// Stops it if running and starts it again on the same port; throws on failure.
    void restart();
    bool running();

  private:
    /// Starts on `port`; false when it exited (e.g. the port was taken) or never answered.
    bool launch(int port, int tls_port, std::chrono::milliseconds timeout);

    options opt_;
    /// Where a server without a data_dir keeps what it writes anyway: the RDB file a replica
    /// receives. Its own, so that no other server ever loads it at start.
    temp_dir scratch_;
    int port_ = 0;
    int tls_port_ = 0;
    child_process proc_;
};

}  // namespace ditto::test
