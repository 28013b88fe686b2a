#pragma once

// Certificates made in the test with the openssl CLI, so TLS runs against real peers: a CA
// the test trusts, a server certificate it signed (localhost and 127.0.0.1), a client
// certificate it signed (mTLS), and the same server name signed by a CA nobody trusts.

#include <string>

namespace ditto::test {

class test_pki {
  public:
    /// Writes every file into `dir` (which must exist); throws std::runtime_error.
    explicit test_pki(std::string dir);

    std::string ca() const { return dir_ + "/ca.pem"; }
    /// Signed by ca(), for DNS:localhost and IP:127.0.0.1.
    std::string server_cert() const { return dir_ + "/srv.pem"; }
    std::string server_key() const { return dir_ + "/srv.key"; }
    /// Signed by ca(), for DNS:elsewhere.test only: right CA, wrong name.
    std::string misnamed_cert() const { return dir_ + "/misnamed.pem"; }
    std::string misnamed_key() const { return dir_ + "/misnamed.key"; }
    /// Signed by ca(), for DNS:localhost only: a node reached by IP address fails the check.
    std::string localhost_only_cert() const { return dir_ + "/localhost-only.pem"; }
    std::string localhost_only_key() const { return dir_ + "/localhost-only.key"; }
    /// Signed by ca(), for client authentication.
    std::string client_cert() const { return dir_ + "/client.pem"; }
    std::string client_key() const { return dir_ + "/client.key"; }
    /// A CA the tests never trust, and a localhost certificate it signed.
    std::string other_ca() const { return dir_ + "/other-ca.pem"; }
    std::string untrusted_cert() const { return dir_ + "/untrusted.pem"; }
    std::string untrusted_key() const { return dir_ + "/untrusted.key"; }

  private:
    std::string dir_;
};

}  // namespace ditto::test
