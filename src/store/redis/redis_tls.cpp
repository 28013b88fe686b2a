#include "ditto/store/redis/redis_tls.hpp"

#include <boost/asio/ssl/context.hpp>

namespace ditto::store::redis {

std::shared_ptr<boost::asio::ssl::context> make_redis_tls_context(const redis_tls_options& opt,
                                                                  std::string& error) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (opt.insecure_skip_verify) {
        ctx->set_verify_mode(ssl::verify_none);
    } else {
        ctx->set_verify_mode(ssl::verify_peer);
        if (!opt.ca_file.empty()) {
            ctx->load_verify_file(opt.ca_file, ec);
            if (ec) {
                error = "cannot load the CA file " + opt.ca_file + ": " + ec.message();
                return nullptr;
            }
        } else {
            ctx->set_default_verify_paths(ec);
            if (ec) {
                error = "cannot load the system CA certificates: " + ec.message();
                return nullptr;
            }
        }
    }
    if (opt.cert_file.empty() != opt.key_file.empty()) {
        error = "a client certificate needs both its certificate and its key file";
        return nullptr;
    }
    if (!opt.cert_file.empty()) {
        ctx->use_certificate_chain_file(opt.cert_file, ec);
        if (ec) {
            error = "cannot load the client certificate " + opt.cert_file + ": " + ec.message();
            return nullptr;
        }
        ctx->use_private_key_file(opt.key_file, ssl::context::pem, ec);
        if (ec) {
            error = "cannot load the client key " + opt.key_file + ": " + ec.message();
            return nullptr;
        }
    }
    return ctx;
}

}  // namespace ditto::store::redis
