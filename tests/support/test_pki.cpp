#include "support/test_pki.hpp"

#include <cstdlib>
#include <stdexcept>

namespace ditto::test {
namespace {

/// `name`.key and `name`.pem signed by `ca` (ca.pem / ca.key in the same directory).
std::string signed_cert(const std::string& name, const std::string& ca, const std::string& ext) {
    return "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name +
           " -keyout " + name + ".key -out " + name + ".csr 2>/dev/null; printf '" + ext + "' > " +
           name + ".ext; openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
           ".key -CAcreateserial -days 1 -extfile " + name + ".ext -out " + name +
           ".pem 2>/dev/null;";
}

}  // namespace

test_pki::test_pki(std::string dir) : dir_(std::move(dir)) {
    const std::string script =
        "set -e; cd '" + dir_ +
        "';"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
        "/CN=ditto-test-ca "
        "-keyout ca.key -out ca.pem 2>/dev/null;"
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
        "/CN=ditto-other-ca "
        "-keyout other-ca.key -out other-ca.pem 2>/dev/null;" +
        signed_cert("srv", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1") +
        signed_cert("misnamed", "ca", "subjectAltName=DNS:elsewhere.test") +
        signed_cert("localhost-only", "ca", "subjectAltName=DNS:localhost") +
        signed_cert("client", "ca", "extendedKeyUsage=clientAuth") +
        signed_cert("untrusted", "other-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    if (std::system(script.c_str()) != 0)
        throw std::runtime_error("openssl could not make the test certificates in " + dir_);
}

}  // namespace ditto::test
