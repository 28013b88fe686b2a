#include "ditto/core/hash.hpp"

#include <openssl/evp.h>

#include <array>
#include <memory>
#include <stdexcept>

namespace ditto::core {

namespace {

// OpenSSL 3 looks the algorithm up in its provider tables on every EVP_sha256() use;
// fetching it once keeps that off the per-request path.
const EVP_MD* sha256_md() {
    static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md;
}

std::string to_hex(const unsigned char* digest, unsigned int len) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(len * 2, '\0');
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0x0f];
    }
    return out;
}

}  // namespace

sha256_digest sha256(std::string_view data) {
    // One context per thread, reused, keeps an allocation off the per-request path.
    thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                             &EVP_MD_CTX_free);
    sha256_digest digest{};
    unsigned int len = 0;
    if (!sha256_md() || !ctx || EVP_DigestInit_ex(ctx.get(), sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) != 1 || len != digest.size()) {
        throw std::runtime_error("sha256: digest failed");
    }
    return digest;
}

std::string sha256_hex(std::string_view data) {
    const auto d = sha256(data);
    return to_hex(d.data(), static_cast<unsigned int>(d.size()));
}

// Each hasher has a context of its own, so hashers may overlap with each other and with
// sha256_hex(). A freed context is kept as the thread's spare (one slot): a fresh context
// costs an allocation and OpenSSL 3's provider set-up, too much for every request.
namespace {
thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> spare_ctx(nullptr,
                                                                               &EVP_MD_CTX_free);
}  // namespace

sha256_hasher::sha256_hasher() : ctx_(spare_ctx ? spare_ctx.release() : EVP_MD_CTX_new()) {
    if (!ctx_ || !sha256_md() ||
        EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr) != 1) {
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
        throw std::runtime_error("sha256: digest init failed");
    }
}

sha256_hasher::~sha256_hasher() {
    if (!spare_ctx)
        spare_ctx.reset(static_cast<EVP_MD_CTX*>(ctx_));
    else
        EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

sha256_hasher& sha256_hasher::update(std::string_view data) {
    if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1)
        throw std::runtime_error("sha256: digest update failed");
    return *this;
}

std::string sha256_hasher::hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest.data(), &len) != 1)
        throw std::runtime_error("sha256: digest failed");
    return to_hex(digest.data(), len);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    // Compare over the longer length so the loop count does not reveal a common prefix.
    const std::size_t n = a.size() > b.size() ? a.size() : b.size();
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

}  // namespace ditto::core
