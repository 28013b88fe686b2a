#include "console.hpp"

#include "console_assets.hpp"
#include "ditto/core/strings.hpp"

namespace ditto::app {
namespace {

using http::field;
using http::status;

// No inline script or style, nothing from another origin, no framing: the page can only
// talk to this gateway, and an injected string cannot run (docs/console.md, "Security").
// With single sign-on the page also POSTs to the identity provider's token endpoint, and only
// there (docs/access.md, "The console").
constexpr std::string_view csp_head =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'";
constexpr std::string_view csp_tail =
    "; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// An origin fit to stand in a CSP source list: scheme://host[:port], nothing else.
bool plain_origin(std::string_view o) {
    if (!o.starts_with("https://") && !o.starts_with("http://"))
        return false;
    const auto rest = o.substr(o.find("://") + 3);
    return !rest.empty() && rest.find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789.-:[]") == std::string_view::npos;
}

void secure(http::response& res, std::string_view sso_origin) {
    std::string csp(csp_head);
    if (plain_origin(sso_origin)) {
        csp += ' ';
        csp += sso_origin;
    }
    csp += csp_tail;
    res.msg.set("Content-Security-Policy", csp);
    res.msg.set(field::x_frame_options, "DENY");
    res.msg.set("X-Content-Type-Options", "nosniff");
    res.msg.set("Referrer-Policy", "no-referrer");
    res.msg.set("Cross-Origin-Opener-Policy", "same-origin");
    res.msg.set("Cross-Origin-Resource-Policy", "same-origin");
    // Revalidated on every load (a cheap 304): a new binary's console is never mixed with
    // the old one's cached files.
    res.msg.set(http::field::cache_control, "no-cache");
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Accept-Encoding names gzip (or *) without q=0.
bool accepts_gzip(std::string_view header) {
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
        const auto semi = item.find(';');
        const auto coding = trim(item.substr(0, semi));
        if (!core::iequals(coding, "gzip") && coding != "*")
            continue;
        if (semi == std::string_view::npos)
            return true;
        auto params = trim(item.substr(semi + 1));
        if (!params.starts_with("q=") && !params.starts_with("Q="))
            return true;
        const auto q = trim(params.substr(2));
        return !(q.starts_with('0') && q.find_first_not_of("0.") == std::string_view::npos);
    }
    return false;
}

// If-None-Match lists our ETag (or is `*`).
bool matches_etag(std::string_view header, std::string_view etag) {
    if (trim(header) == "*")
        return true;
    while (!header.empty()) {
        const auto comma = header.find(',');
        auto tag = trim(header.substr(0, comma));
        if (tag.starts_with("W/"))
            tag.remove_prefix(2);
        if (tag == etag)
            return true;
        header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    }
    return false;
}

const console_asset* find_asset(std::string_view name) {
    for (const auto& a : console_assets()) {
        if (a.path == name)
            return &a;
    }
    return nullptr;
}

}  // namespace

bool is_console_path(std::string_view path) {
    return path == "/ui" || path.starts_with("/ui/");
}

http::response serve_console(const http::request& req, std::string_view path,
                             std::string_view sso_origin) {
    if (path == "/ui") {
        auto res = http::make_response(req, status::moved_permanently, "", "");
        res.msg.set(field::location, "/ui/");
        secure(res, sso_origin);
        return res;
    }
    auto name = path.substr(4);
    if (name.empty())
        name = "index.html";
    const auto* asset = find_asset(name);
    if (!asset) {
        auto res = http::make_response(req, status::not_found, "", "");
        secure(res, sso_origin);
        return res;
    }
    const auto inm = req.find(field::if_none_match);
    if (inm != req.end() && matches_etag(inm->value(), asset->etag)) {
        auto res = http::make_response(req, status::not_modified, "", "");
        // No Content-Length (RFC 9110 section 8.6): Beast's prepare_payload leaves a 304 without
        // one; the test holds it to that.
        res.msg.set(field::etag, asset->etag);
        res.msg.set(field::vary, "Accept-Encoding");
        secure(res, sso_origin);
        return res;
    }
    const auto ae = req.find(field::accept_encoding);
    const bool gzip = !asset->gzip.empty() && ae != req.end() && accepts_gzip(ae->value());
    auto res = http::make_response(req, status::ok, std::string(gzip ? asset->gzip : asset->raw),
                                   asset->content_type);
    if (gzip)
        res.msg.set(field::content_encoding, "gzip");
    res.msg.set(field::vary, "Accept-Encoding");
    res.msg.set(field::etag, asset->etag);
    secure(res, sso_origin);
    return res;
}

}  // namespace ditto::app
