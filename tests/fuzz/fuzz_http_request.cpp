// A client connection's bytes as the gateway handles them, without a socket: the server's
// request parser (http::request_parser: Beast's basic_parser writing our http::request) with
// the server's limits (http/server.cpp: head with --max-header-bytes, then the body with
// --proxy-max-body-bytes, several requests per connection), then the pure steps the
// `/v1/*` chain applies to a parsed request: x-request-id, the JSON scan of the body, the
// routed model, key lookup, routing, guardrails (schema, multipart, text filters), the cache key,
// and the upstream request the proxy would send (upstream::build_outgoing + http::wire).
//
// Invariants: the scan agrees with a full JSON parser (nlohmann) and its spans point at what
// model_map rewrites; the upstream request parses back as exactly what was built, alone (no
// second request smuggled after it), without the client's credentials; a client request is
// read only when its framing is unambiguous (a Transfer-Encoding other than one final
// `chunked` is refused: issue 19, docs/security.md).
//
// Input: byte 0 = flags (bit 0: small limits, as with --max-header-bytes 1024
// --proxy-max-body-bytes 512), then the bytes the client sends.

#include <algorithm>
#include <array>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ditto/cache/cache_key.hpp"
#include "ditto/config/load.hpp"
#include "ditto/core/hash.hpp"
#include "ditto/core/json_scan.hpp"
#include "ditto/core/strings.hpp"
#include "ditto/http/framing.hpp"
#include "ditto/http/message.hpp"
#include "ditto/http/message_parser.hpp"
#include "ditto/http/server.hpp"
#include "ditto/http/wire.hpp"
#include "ditto/middleware/builtin.hpp"
#include "ditto/middleware/chain.hpp"
#include "ditto/middleware/guardrails.hpp"
#include "ditto/middleware/keys.hpp"
#include "ditto/router/route.hpp"
#include "ditto/upstream/backend.hpp"
#include "ditto/upstream/client.hpp"
#include "fuzz_check.hpp"

namespace {

namespace http = ditto::http;
namespace bhttp = boost::beast::http;
namespace config = ditto::config;
namespace core = ditto::core;
namespace middleware = ditto::middleware;
using error_code = boost::system::error_code;

constexpr std::uint64_t no_limit = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t max_requests_per_input = 4;

// The handler only needs the body reader for streamed uploads, which are not exercised here.
class no_body final : public http::body_reader {
  public:
    explicit no_body(std::optional<std::uint64_t> length) : length_(length) {}
    std::optional<std::uint64_t> content_length() const override { return length_; }
    bool done() const override { return true; }
    boost::asio::awaitable<error_code> read_all(std::string&, std::uint64_t) override {
        co_return error_code{};
    }
    boost::asio::awaitable<std::optional<std::string>> read_some(error_code&) override {
        co_return std::nullopt;
    }

  private:
    std::optional<std::uint64_t> length_;
};

config::guardrails_config strict_guardrails() {
    config::guardrails_config g;
    g.banned_phrases = {"ignore previous instructions"};
    g.banned_regexes = {R"(drop\s+table)", R"(\b(?:\d[ -]*?){13,16}\b)"};
    g.block_pii = true;
    g.validate_schema = true;
    g.max_input_tokens = 100000;
    g.allow_models = {"gpt-*", "claude-*", "text-embedding-3-small"};
    g.deny_models = {"gpt-4-32k*"};
    return g;
}

struct gateway {
    middleware::key_snapshot keys;
    ditto::upstream::backend backend;
    std::vector<std::string> extra_cache_headers{"x-tenant"};

    static std::vector<config::virtual_key_config> key_list() {
        config::virtual_key_config strict;
        strict.id = "strict";
        strict.token = "vk-fuzz-strict";
        strict.tenant_id = "t1";
        strict.guardrails = strict_guardrails();
        config::virtual_key_config hashed;
        hashed.id = "hashed";
        hashed.token = "sha256:" + core::sha256_hex("vk-fuzz-hashed");
        hashed.route = "mock";
        return {strict, hashed};
    }
    static config::router_config router() {
        config::router_config r;
        r.default_backends = {{"mock", 1.0}};
        config::route_rule claude;
        claude.model_prefix = "claude";
        claude.backends = {{"mock", 2.0}, {"other", 1.0}};
        config::guardrails_config g;
        g.deny_models = {"claude-2*"};
        g.validate_schema = true;
        claude.guardrails = g;
        r.rules.push_back(claude);
        return r;
    }
    static config::backend_config backend_config() {
        config::backend_config b;
        b.name = "mock";
        b.base_url = "http://127.0.0.1:9090/v1";
        b.headers = {{"authorization", "Bearer sk-upstream"}, {"x-org", "fuzz"}};
        b.query_params = {{"api-version", "2024-10-21"}};
        return b;
    }
    gateway() : keys(key_list(), router()), backend(backend_config()) {}
};

// ---- the JSON scan against nlohmann ----

std::size_t depth_of(const nlohmann::json& j) {
    std::size_t d = 0;
    if (j.is_structured()) {
        for (const auto& v : j)
            d = std::max(d, depth_of(v));
        return d + 1;
    }
    return 0;
}

// A span the scan reported is the exact JSON token of the value, as model_map rewrites it.
void check_span(std::string_view body, core::json_span span, const nlohmann::json& expected) {
    FUZZ_CHECK(span.begin < span.end && span.end <= body.size());
    const auto token =
        nlohmann::json::parse(body.substr(span.begin, span.end - span.begin), nullptr, false);
    FUZZ_CHECK(!token.is_discarded());
    FUZZ_CHECK(token == expected);
}

void check_scan(std::string_view body) {
    core::request_fields f;
    const bool ours = core::scan_request_json(body, f);
    if (body.find('\0') != std::string_view::npos) {
        // nlohmann takes a NUL byte for the end of the input; JSON text never holds a raw one.
        FUZZ_CHECK(!ours);
        return;
    }
    const auto doc = nlohmann::json::parse(body, nullptr, false);
    const bool theirs = !doc.is_discarded();
    if (body.starts_with("\xEF\xBB\xBF"))
        return;  // nlohmann skips a UTF-8 BOM; a JSON body has none (RFC 8259 §8.1)
    if (theirs && !ours) {
        FUZZ_CHECK(depth_of(doc) > 256);  // our documented nesting limit
        return;
    }
    FUZZ_CHECK(ours == theirs);
    if (!ours)
        return;
    FUZZ_CHECK(f.is_object == doc.is_object());
    if (!doc.is_object())
        return;
    // Duplicate members: both keep the last one, but the scan only ever takes a string model,
    // so compare when the last value has the type the scan reads.
    if (auto it = doc.find("model"); it != doc.end() && it->is_string()) {
        FUZZ_CHECK(f.model && *f.model == it->get_ref<const std::string&>());
        check_span(body, f.model_span, *it);
    }
    if (auto it = doc.find("stream"); it != doc.end() && it->is_boolean())
        FUZZ_CHECK(f.stream == it->get<bool>());
    const std::pair<const char*, const std::optional<std::uint64_t>*> counts[] = {
        {"max_tokens", &f.max_tokens},
        {"max_completion_tokens", &f.max_completion_tokens},
        {"max_output_tokens", &f.max_output_tokens}};
    // A token limit is an integer in [1, max_token_limit] or null (unset); anything else in
    // the (last) member refuses the request. An earlier duplicate may refuse it too, so only
    // "no such member at all" proves there is nothing to refuse.
    bool any_limit = false;
    for (const auto& [name, value] : counts) {
        if (auto it = doc.find(name); it != doc.end()) {
            any_limit = true;
            if (it->is_number_unsigned() && it->get<std::uint64_t>() >= 1 &&
                it->get<std::uint64_t>() <= core::max_token_limit) {
                FUZZ_CHECK(*value == it->get<std::uint64_t>());
            } else {
                FUZZ_CHECK(!value->has_value());
                if (!it->is_null())
                    FUZZ_CHECK(f.bad_token_limit.has_value());
            }
        }
    }
    if (!any_limit)
        FUZZ_CHECK(!f.bad_token_limit.has_value());
    if (auto it = doc.find("stream_options"); it != doc.end() && it->is_object()) {
        FUZZ_CHECK(f.stream_options_span.has_value());
        check_span(body, *f.stream_options_span, *it);
        if (auto u = it->find("include_usage"); u != it->end() && u->is_boolean())
            FUZZ_CHECK(f.include_usage == u->get<bool>());
    }
}

// ---- the upstream request ----

bool is_credential(std::string_view name) {
    for (std::string_view c : {"proxy-authorization", "x-api-key", "x-litellm-api-key",
                               "x-ditto-virtual-key", "x-forwarded-authorization"}) {
        if (core::iequals(name, c))
            return true;
    }
    return false;
}

// A head's fields as {lower-case name, name, value}, grouped by name in a stable order. Beast's
// fields put a field after the last one of its name, ours keep arrival order; HTTP gives
// meaning only to the order within one name (RFC 9110 §5.3), which both keep.
template <class Fields>
std::vector<std::array<std::string, 3>> by_name(const Fields& fields) {
    std::vector<std::array<std::string, 3>> v;
    for (const auto& f : fields) {
        std::string name(f.name_string());
        std::string lower = name;
        for (auto& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        v.push_back({std::move(lower), std::move(name), std::string(f.value())});
    }
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a[0] < b[0]; });
    return v;
}

void check_upstream(const gateway& gw, const http::request& req, const std::string& path,
                    const std::string& query, const std::string& body,
                    const std::string& request_id) {
    auto out = ditto::upstream::build_outgoing(req, gw.backend, path, query, body, request_id);
    std::string wire;
    http::wire::append_request_head(wire, out.msg);
    const std::size_t head_size = wire.size();
    wire += out.body;

    bhttp::request_parser<bhttp::string_body> p;
    p.header_limit(std::numeric_limits<std::uint32_t>::max());
    p.body_limit(no_limit);
    error_code ec;
    std::size_t used = 0;
    while (!p.is_done() && !ec && used < wire.size()) {
        const auto n = p.put(boost::asio::buffer(wire.data() + used, wire.size() - used), ec);
        if (ec == bhttp::error::need_more && n == 0)
            break;
        used += n;
    }
    if (!p.is_done() && !ec && used == wire.size() && p.is_header_done() && !p.content_length() &&
        !p.chunked()) {
        p.put_eof(ec);  // a body delimited by the end of the connection
    }
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(p.is_done());
    FUZZ_CHECK(used == wire.size());  // nothing left over: no second request hidden in it
    FUZZ_CHECK(used >= head_size);
    const auto& back = p.get();
    FUZZ_CHECK(back.method_string() == out.msg.method_string());
    FUZZ_CHECK(back.target() == out.msg.target());
    FUZZ_CHECK(back.body() == out.body);
    FUZZ_CHECK(by_name(back) == by_name(out.msg));
    for (const auto& f : back)
        FUZZ_CHECK(!is_credential(f.name_string()));
    FUZZ_CHECK(back[bhttp::field::authorization] == "Bearer sk-upstream");
    FUZZ_CHECK(back["x-request-id"] == request_id);
    FUZZ_CHECK(back.count(bhttp::field::host) == 1);
}

// ---- one request through the chain's pure steps ----

void handle(const gateway& gw, http::request& req, std::string raw_body,
            std::optional<std::uint64_t> declared) {
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);

    no_body body(declared);
    const http::request_info info{"127.0.0.1", 0, false};
    middleware::proxy_context ctx{req, body, info};
    ctx.path = path;
    ctx.query = query;
    if (auto it = req.find("x-request-id"); it != req.end()) {
        ctx.client_request_id = true;
        ctx.request_id = std::string(core::trim(it->value()));
    }
    if (ctx.request_id.empty())
        ctx.request_id = "ditto-0-0";
    (void)middleware::is_streamable_upload(ctx);
    ctx.raw_body = std::move(raw_body);
    ctx.body_read = true;

    check_scan(ctx.raw_body);
    const auto ct = req.find(http::field::content_type);
    const bool json_type = ct != req.end() && core::iequals_prefix(ct->value(), "application/json");
    if (json_type && !ctx.raw_body.empty()) {
        if (!core::scan_request_json(ctx.raw_body, ctx.fields))
            return;  // 400 invalid_json
        ctx.body_is_json = true;
    }
    ctx.input_estimate = (ctx.raw_body.size() + 3) / 4;
    const std::string model = middleware::routed_model(ctx);

    // Every header value is tried as a presented token: whichever the auth step picks, the
    // lookup is by its digest.
    const config::virtual_key_config* key = nullptr;
    for (const auto& f : req) {
        auto v = core::trim(f.value());
        if (core::iequals_prefix(v, "bearer "))
            v = core::trim(v.substr(7));
        if (const auto* k = gw.keys.find(core::sha256(v)))
            key = k;
    }
    if (key == nullptr)
        key = gw.keys.find(config::token_lookup_digest("vk-fuzz-strict"));
    FUZZ_CHECK(key != nullptr);

    const auto candidates =
        ditto::router::candidates(gw.keys.router(), key->route, model, ctx.raw_body.size());
    middleware::guardrail_input in;
    in.method = req.method_string();
    in.path = ctx.path;
    in.content_type = ct == req.end() ? std::string_view{} : std::string_view(ct->value());
    in.model = model;
    in.input_tokens = ctx.input_estimate;
    in.raw_body = ctx.raw_body;
    in.body_is_json = ctx.body_is_json;
    const auto verdict = gw.keys.guardrails().select(*key, model).check(in);
    if (!verdict.ok()) {
        FUZZ_CHECK(verdict.error == http::gateway_error::invalid_request ||
                   verdict.error == http::gateway_error::guardrail_rejected);
        (void)middleware::api_error(req, *verdict.error, verdict.message);
        return;
    }

    const auto partition = ditto::cache::route_partition(candidates);
    const auto k1 = ditto::cache::cache_key(req, target, key->id, partition, ctx.raw_body,
                                            gw.extra_cache_headers);
    FUZZ_CHECK(k1 == ditto::cache::cache_key(req, target, key->id, partition, ctx.raw_body,
                                             gw.extra_cache_headers));
    check_upstream(gw, req, ctx.path, ctx.query, ctx.raw_body, ctx.request_id);
}

// ---- the connection ----

// A request the server goes on to read declares its body in one way only: no transfer coding
// at all, or a single `chunked` that the parser really uses (so the bytes after its last chunk
// are never read as a body, nor a body's bytes as the next request).
void check_framing(const http::request_parser& head) {
    const auto& h = head.get();
    std::vector<std::string_view> codings;
    for (const auto& f : h) {
        if (!core::iequals(f.name_string(), "transfer-encoding"))
            continue;
        std::string_view list = f.value();
        for (;;) {
            const auto comma = list.find(',');
            codings.push_back(core::trim(list.substr(0, comma)));
            if (comma == std::string_view::npos)
                break;
            list.remove_prefix(comma + 1);
        }
    }
    if (codings.empty()) {
        FUZZ_CHECK(!head.chunked());
        return;
    }
    FUZZ_CHECK(codings.size() == 1 && core::iequals(codings[0], "chunked"));
    FUZZ_CHECK(head.chunked());
    FUZZ_CHECK(!head.content_length());
    FUZZ_CHECK(h.version() == 11);
}

// A head the server reads holds no obs-fold: a header line never starts with SP or HTAB.
void check_no_fold(std::string_view head) {
    for (auto at = head.find('\n'); at != std::string_view::npos; at = head.find('\n', at + 1)) {
        FUZZ_CHECK(at + 1 >= head.size() || (head[at + 1] != ' ' && head[at + 1] != '\t'));
    }
}

struct limits {
    std::size_t max_header_bytes;
    std::uint64_t max_body_bytes;
};

// Parses one request off the front of `in` as the server and the read_body step do; false
// when the connection would end (bad request, 413, 431, or the client stopped mid-request).
bool one_request(const gateway& gw, std::string_view& in, const limits& lim) {
    http::request req;
    http::request_parser head(req);
    head.header_limit(static_cast<std::uint32_t>(lim.max_header_bytes));
    head.body_limit(boost::none);
    error_code ec;
    ditto::http::fold_finder folds;  // as the server reads heads: an obs-fold is refused
    const auto n = ditto::http::put_head(head, in, folds, ec);
    if (ec || !head.is_header_done())
        return false;
    check_no_fold(in.substr(0, n));
    in.remove_prefix(n);
    // The server refuses what request_framing_ok refuses (400, connection closed).
    if (!ditto::http::request_framing_ok(req))
        return false;
    check_framing(head);

    const auto declared = head.content_length();
    // read_body answers 413 (or streams a large upload) before reading a body declared over
    // the limit, and the connection closes, as the server's read_all() refuses it (its start()).
    if (declared && *declared > lim.max_body_bytes)
        return false;
    std::string raw_body;
    if (!head.is_done()) {
        // read_all(): the rest of the message under the body limit, by the same parser.
        head.body_to(&raw_body, lim.max_body_bytes);
        while (!head.is_done()) {
            const auto used = head.put(boost::asio::buffer(in.data(), in.size()), ec);
            in.remove_prefix(used);
            if (ec == bhttp::error::need_more && !in.empty())
                ec = {};
            if (ec || used == 0)
                return false;
        }
        // The parser's own limit never came into play: the sink is what bounds the body.
        FUZZ_CHECK(raw_body.size() <= lim.max_body_bytes);
        if (declared)
            FUZZ_CHECK(raw_body.size() == *declared);
    }
    handle(gw, req, std::move(raw_body),
           declared ? std::optional<std::uint64_t>(*declared) : std::nullopt);
    return req.keep_alive();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const gateway gw;
    if (size == 0)
        return 0;
    const http::server_options server_defaults;
    const middleware::body_limits body_defaults;
    const limits lim = (data[0] & 1)
                           ? limits{1024, 512}
                           : limits{server_defaults.max_header_bytes, body_defaults.max_body_bytes};
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    for (std::size_t i = 0; i < max_requests_per_input && !in.empty(); ++i) {
        if (!one_request(gw, in, lim))
            break;
    }
    return 0;
}
