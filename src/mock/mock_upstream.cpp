#include "mock_upstream.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <nlohmann/json.hpp>

#include "ditto/http/error_body.hpp"

namespace ditto::mock {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using json = nlohmann::json;
using http::status;

constexpr std::size_t max_recorded = 1000;
constexpr std::size_t kept_body_bytes = 8 * 1024 * 1024;
constexpr std::int64_t created_at = 1700000000;
constexpr std::string_view reply_words[] = {"Hello",  " from", " ditto-mock-upstream", ".", " This",
                                            " reply", " is",   " deterministic",       "."};
constexpr std::uint64_t completion_tokens = 9;  // one per word piece above
// x-mock-stream-events is capped: the events are built before the first is sent, and a
// hostile count must not take the mock's memory.
constexpr std::uint64_t max_stream_events = 10'000;
// {0.125, -0.25, 0.5, 1.0} as little-endian float32, base64.
constexpr const char* embedding_base64 = "AAAAPgAAgL4AAAA/AACAPw==";

std::string reply_text() {
    std::string s;
    for (auto w : reply_words)
        s += w;
    return s;
}

std::string_view path_of(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

// A non-negative integer header, or `fallback` when absent or malformed.
std::uint64_t header_u64(const http::request& req, std::string_view name, std::uint64_t fallback) {
    auto it = req.find(name);
    if (it == req.end())
        return fallback;
    std::uint64_t v = 0;
    auto sv = it->value();
    auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), v);
    return (ec == std::errc() && p == sv.data() + sv.size()) ? v : fallback;
}

bool has_header(const http::request& req, std::string_view name) {
    return req.find(name) != req.end();
}

net::awaitable<void> sleep_ms(std::uint64_t ms) {
    if (ms == 0)
        co_return;
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(net::as_tuple(net::use_awaitable));
}

struct faults {
    std::uint64_t chunk_delay_ms = 0;
    std::optional<std::uint64_t> stall_after;  ///< bytes sent before stalling
    std::uint64_t stall_ms = 30'000;
    std::optional<std::uint64_t> reset_after;       ///< bytes sent before a connection reset
    std::atomic<std::uint64_t>* aborted = nullptr;  ///< counts streams the client abandoned
};

// Sends `pieces` one by one, applying the request's faults at exact byte offsets.
class scripted_stream final : public http::body_stream {
  public:
    scripted_stream(std::vector<std::string> pieces, faults f)
        : pieces_(std::move(pieces)), faults_(f) {}
    ~scripted_stream() override {
        // Destroyed before the end and not by our own reset: the reader went away.
        const bool finished = index_ >= pieces_.size() && pending_.empty();
        if (!finished && !reset_ && faults_.aborted)
            faults_.aborted->fetch_add(1);
    }
    scripted_stream(const scripted_stream&) = delete;
    scripted_stream& operator=(const scripted_stream&) = delete;

    net::awaitable<std::optional<std::string>> next(boost::system::error_code& ec) override {
        if (pending_.empty()) {
            if (index_ >= pieces_.size())
                co_return std::nullopt;
            if (index_ > 0)
                co_await sleep_ms(faults_.chunk_delay_ms);
            pending_ = std::move(pieces_[index_++]);
        }
        std::string out = std::move(pending_);
        pending_.clear();
        if (faults_.reset_after) {
            if (sent_ >= *faults_.reset_after) {
                reset_ = true;
                ec = net::error::connection_reset;
                co_return std::nullopt;
            }
            split_at(out, *faults_.reset_after - sent_);
        }
        if (faults_.stall_after && !stalled_) {
            if (sent_ >= *faults_.stall_after) {
                stalled_ = true;
                co_await sleep_ms(faults_.stall_ms);
            } else {
                split_at(out, *faults_.stall_after - sent_);
            }
        }
        sent_ += out.size();
        co_return out;
    }

  private:
    // Keeps the first `n` bytes in `out` and the rest for the next call.
    void split_at(std::string& out, std::uint64_t n) {
        if (n < out.size()) {
            pending_ = out.substr(n);
            out.resize(n);
        }
    }

    std::vector<std::string> pieces_;
    faults faults_;
    std::size_t index_ = 0;
    std::string pending_;
    std::uint64_t sent_ = 0;
    bool stalled_ = false;
    bool reset_ = false;
};

// N bytes of 'x', produced 64 KiB at a time so the mock itself never holds them all.
class generated_stream final : public http::body_stream {
  public:
    explicit generated_stream(std::uint64_t total) : left_(total) {}
    net::awaitable<std::optional<std::string>> next(boost::system::error_code&) override {
        if (left_ == 0)
            co_return std::nullopt;
        const auto n = std::min<std::uint64_t>(left_, 64 * 1024);
        left_ -= n;
        co_return std::string(n, 'x');
    }

  private:
    std::uint64_t left_;
};

faults faults_of(const http::request& req) {
    faults f;
    f.chunk_delay_ms = header_u64(req, "x-mock-chunk-delay-ms", 0);
    f.stall_ms = header_u64(req, "x-mock-stall-ms", f.stall_ms);
    if (has_header(req, "x-mock-stall-after-bytes")) {
        f.stall_after = header_u64(req, "x-mock-stall-after-bytes", 0);
    }
    if (has_header(req, "x-mock-reset-after-bytes")) {
        f.reset_after = header_u64(req, "x-mock-reset-after-bytes", 0);
    }
    return f;
}

http::response json_response(const http::request& req, status st, std::string body,
                             const faults& f) {
    auto res = http::make_response(req, st, std::move(body));
    if (f.stall_after || f.reset_after) {
        std::vector<std::string> pieces{std::move(res.msg.body())};
        res.msg.body().clear();
        res.msg.erase(bhttp::field::content_length);  // chunked, so faults land mid-body
        res.stream = std::make_unique<scripted_stream>(std::move(pieces), f);
    }
    return res;
}

http::response sse_response(const http::request& req, std::vector<std::string> events,
                            const faults& f) {
    auto res = http::make_response(req, status::ok, "", "text/event-stream");
    res.msg.set(bhttp::field::cache_control, "no-cache");
    res.msg.erase(bhttp::field::content_length);
    res.stream = std::make_unique<scripted_stream>(std::move(events), f);
    return res;
}

http::response generated_response(const http::request& req, std::uint64_t bytes, bool chunked,
                                  const faults& f) {
    auto res = http::make_response(req, status::ok, "", "application/octet-stream");
    if (f.stall_after || f.reset_after || f.chunk_delay_ms) {
        res.stream =
            std::make_unique<scripted_stream>(std::vector<std::string>{std::string(bytes, 'x')}, f);
    } else {
        res.stream = std::make_unique<generated_stream>(bytes);
    }
    if (chunked) {
        res.msg.erase(bhttp::field::content_length);
    } else {
        res.msg.content_length(bytes);
    }
    return res;
}

std::string sse_data(const json& j) {
    return "data: " + j.dump() + "\n\n";
}

std::uint64_t prompt_tokens_of(std::uint64_t body_bytes) {
    return (body_bytes + 3) / 4;  // the same ceil(bytes/4) estimate the gateway uses
}

// `x-mock-usage: {json}` is merged into a chat answer's usage (tests of cached and
// cache-creation pricing); `null` members remove fields.
json usage_patch_of(const http::request& req) {
    auto it = req.find("x-mock-usage");
    if (it == req.end())
        return nullptr;
    auto j = json::parse(std::string_view(it->value()), nullptr, false);
    return j.is_object() ? j : json(nullptr);
}

json usage_json(std::uint64_t prompt, std::uint64_t completion, bool responses_api,
                const json& patch = nullptr) {
    if (!patch.is_null()) {
        json u = usage_json(prompt, completion, responses_api);
        u.merge_patch(patch);
        return u;
    }
    if (responses_api) {
        return {{"input_tokens", prompt},
                {"output_tokens", completion},
                {"total_tokens", prompt + completion}};
    }
    return {{"prompt_tokens", prompt},
            {"completion_tokens", completion},
            {"total_tokens", prompt + completion}};
}

std::string model_of(const json& body) {
    if (body.is_object()) {
        auto it = body.find("model");
        if (it != body.end() && it->is_string())
            return it->get<std::string>();
    }
    return "mock-model";
}

bool wants_stream(const json& body) {
    return body.is_object() && body.value("stream", false) == true;
}

bool wants_usage_chunk(const json& body) {
    if (!body.is_object())
        return false;
    auto so = body.find("stream_options");
    return so != body.end() && so->is_object() && so->value("include_usage", false) == true;
}

// One `chat.completion.chunk` event.
std::string chat_chunk(const std::string& model, json delta, json finish) {
    return sse_data(
        {{"id", "chatcmpl-mock"},
         {"object", "chat.completion.chunk"},
         {"created", created_at},
         {"model", model},
         {"choices",
          json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}})}});
}

// A streamed chat answer: `deltas` (the first carries the role), the finish chunk, the usage
// chunk when asked for, `[DONE]`.
std::vector<std::string> chat_stream(const std::string& model, const std::vector<json>& deltas,
                                     std::string_view finish, bool usage, std::uint64_t prompt,
                                     const json& usage_patch) {
    std::vector<std::string> out;
    out.reserve(deltas.size() + 3);
    for (const auto& d : deltas)
        out.push_back(chat_chunk(model, d, nullptr));
    out.push_back(chat_chunk(model, json::object(), finish));
    if (usage) {
        out.push_back(
            sse_data({{"id", "chatcmpl-mock"},
                      {"object", "chat.completion.chunk"},
                      {"created", created_at},
                      {"model", model},
                      {"choices", json::array()},
                      {"usage", usage_json(prompt, completion_tokens, false, usage_patch)}}));
    }
    out.emplace_back("data: [DONE]\n\n");
    return out;
}

// What a chat completion answers. Real clients (the SDK suite, tests/sdk) need a tool round
// trip that is as deterministic as the plain reply: with `tools`, a call to the first tool;
// after a `tool` message, text quoting the tool's result.
struct chat_answer {
    std::vector<std::string> pieces;  ///< the text, as streamed; empty: the fixed reply words
    std::string tool_name;            ///< non-empty: a tool call instead of text
    std::string arguments;            ///< the call's arguments, JSON text
};

const json* member(const json& j, const std::string& name) {
    if (!j.is_object())
        return nullptr;
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
}

std::string string_member(const json& j, const std::string& name) {
    const json* m = member(j, name);
    return m && m->is_string() ? m->get<std::string>() : std::string();
}

// A string, or the text parts of a content array (image and other parts carry no text).
std::string text_of(const json* content) {
    if (!content)
        return {};
    if (content->is_string())
        return content->get<std::string>();
    std::string out;
    if (content->is_array()) {
        for (const auto& part : *content)
            out += string_member(part, "text");
    }
    return out;
}

// A value that a JSON Schema of that type accepts: SDKs validate the arguments they get
// against the tool's schema (an enum's first value, so enums validate too).
json argument_value(const json& schema) {
    const json* e = member(schema, "enum");
    if (e && e->is_array() && !e->empty())
        return e->front();
    const auto type = string_member(schema, "type");
    if (type == "integer" || type == "number")
        return 1;
    if (type == "boolean")
        return true;
    if (type == "array")
        return json::array();
    if (type == "object")
        return json::object();
    return "Paris";
}

// The first tool's required parameters, each with a value of its type: {"city":"Paris"} for
// the usual weather tool.
std::string arguments_for(const json& parameters) {
    json args = json::object();
    const json* required = member(parameters, "required");
    const json* properties = member(parameters, "properties");
    if (required && required->is_array()) {
        for (const auto& name : *required) {
            if (!name.is_string())
                continue;
            const json* schema =
                properties ? member(*properties, name.get<std::string>()) : nullptr;
            args[name.get<std::string>()] = argument_value(schema ? *schema : json(nullptr));
        }
    }
    return args.dump();
}

chat_answer chat_answer_of(const json& body) {
    chat_answer a;
    const json* messages = member(body, "messages");
    const json* last =
        messages && messages->is_array() && !messages->empty() ? &messages->back() : nullptr;
    if (last && string_member(*last, "role") == "tool") {
        a.pieces = {"Tool said: ", text_of(member(*last, "content"))};
        return a;
    }
    const json* tools = member(body, "tools");
    const json* choice = member(body, "tool_choice");
    if (!tools || !tools->is_array() || tools->empty() || (choice && *choice == "none"))
        return a;
    const json* fn = member(tools->front(), "function");
    if (!fn)
        return a;
    a.tool_name = string_member(*fn, "name");
    const json* parameters = member(*fn, "parameters");
    a.arguments = arguments_for(parameters ? *parameters : json(nullptr));
    return a;
}

json responses_object(const std::string& model, std::uint64_t prompt, const char* state) {
    json output = json::array();
    if (std::string_view(state) == "completed") {
        output.push_back({{"type", "message"},
                          {"id", "msg-mock"},
                          {"role", "assistant"},
                          {"status", "completed"},
                          {"content", json::array({{{"type", "output_text"},
                                                    {"text", reply_text()},
                                                    {"annotations", json::array()}}})}});
    }
    json r = {{"id", "resp-mock"}, {"object", "response"}, {"created_at", created_at},
              {"status", state},   {"model", model},       {"output", output}};
    if (std::string_view(state) == "completed") {
        r["usage"] = usage_json(prompt, completion_tokens, true);
    }
    return r;
}

std::vector<std::string> responses_stream(const std::string& model, std::uint64_t prompt) {
    std::vector<std::string> out;
    auto ev = [](std::string_view type, json data) {
        data["type"] = type;
        return "event: " + std::string(type) + "\ndata: " + data.dump() + "\n\n";
    };
    out.push_back(
        ev("response.created", {{"response", responses_object(model, prompt, "in_progress")}}));
    for (auto w : reply_words) {
        out.push_back(ev("response.output_text.delta",
                         {{"item_id", "msg-mock"}, {"output_index", 0}, {"delta", w}}));
    }
    out.push_back(
        ev("response.completed", {{"response", responses_object(model, prompt, "completed")}}));
    return out;
}

// The ids from `x-mock-models: a,b` (so tests can give two upstreams different lists),
// else a fixed three.
json models_list(const http::request& req) {
    std::vector<std::string> ids{"gpt-4o-mini", "gpt-4o", "mock-model"};
    if (auto it = req.find("x-mock-models"); it != req.end()) {
        ids.clear();
        std::string_view list = it->value();
        while (!list.empty()) {
            auto comma = list.find(',');
            auto id = list.substr(0, comma);
            if (!id.empty())
                ids.emplace_back(id);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
    }
    json data = json::array();
    for (const auto& id : ids) {
        data.push_back(
            {{"id", id}, {"object", "model"}, {"created", created_at}, {"owned_by", "ditto-mock"}});
    }
    return {{"object", "list"}, {"data", data}};
}

}  // namespace

void mock_upstream::record(const http::request& req, std::uint64_t body_bytes) {
    json headers = json::object();
    for (const auto& f : req) {
        std::string name(f.name_string());
        for (auto& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        headers[name] = std::string(f.value());
    }
    std::lock_guard lock(mutex_);
    json entry = {{"seq", ++seq_},
                  {"method", std::string(req.method_string())},
                  {"target", std::string(req.target())},
                  {"headers", headers},
                  {"body", req.body()},
                  {"body_bytes", body_bytes}};
    recorded_.push_back(entry.dump(-1, ' ', false, json::error_handler_t::replace));
    if (recorded_.size() > max_recorded)
        recorded_.pop_front();
}

std::string mock_upstream::recorded_json() {
    std::lock_guard lock(mutex_);
    std::string out = "[";
    for (std::size_t i = 0; i < recorded_.size(); ++i) {
        if (i)
            out += ',';
        out += recorded_[i];
    }
    out += ']';
    return out;
}

net::awaitable<http::response> mock_upstream::handle(http::request& req, http::body_reader& body,
                                                     const http::request_info&) {
    // Keep at most `kept_body_bytes` (enough for any JSON a test sends); count the rest, so a
    // 20 MB upload passes through in bounded memory.
    std::uint64_t body_bytes = 0;
    for (;;) {
        boost::system::error_code ec;
        auto piece = co_await body.read_some(ec);
        if (ec) {
            co_return http::make_response(req, status::bad_request,
                                          http::openai_error("invalid_request_error", "",
                                                             "unreadable body: " + ec.message()));
        }
        if (!piece)
            break;
        body_bytes += piece->size();
        if (req.body().size() < kept_body_bytes) {
            req.body().append(*piece, 0, kept_body_bytes - req.body().size());
        }
    }
    const auto path = path_of(req.target());
    if (path == "/__mock/stats") {
        json st = {{"aborted_streams", aborted_.load()}};
        co_return http::make_response(req, status::ok, st.dump());
    }
    if (path == "/__mock/requests") {
        if (req.method() == bhttp::verb::delete_) {
            std::lock_guard lock(mutex_);
            recorded_.clear();
            co_return http::make_response(req, status::no_content, "", "");
        }
        co_return http::make_response(req, status::ok, recorded_json());
    }
    record(req, body_bytes);

    auto f = faults_of(req);
    f.aborted = &aborted_;
    co_await sleep_ms(header_u64(req, "x-mock-delay-ms", 0));

    if (auto forced = header_u64(req, "x-mock-status", 0); forced >= 100 && forced <= 599) {
        const auto st = static_cast<status>(forced);
        auto res = json_response(
            req, st,
            http::openai_error(forced == 429 ? "rate_limit_error" : "api_error", "mock_status",
                               "ditto-mock-upstream returned " + std::to_string(forced)),
            f);
        if (auto it = req.find("x-mock-retry-after"); it != req.end()) {
            res.msg.set(bhttp::field::retry_after, it->value());
        }
        co_return res;
    }

    if (has_header(req, "x-mock-response-bytes")) {
        co_return generated_response(req, header_u64(req, "x-mock-response-bytes", 0),
                                     has_header(req, "x-mock-chunked"), f);
    }

    if (chat_only_ && (path == "/v1/responses" || path.starts_with("/v1/responses/") ||
                       path == "/v1/messages" || path.starts_with("/v1/messages/"))) {
        co_return json_response(
            req, status::not_found,
            http::openai_error(
                "invalid_request_error", "unknown_url",
                "ditto-mock-upstream --chat-only: no route for " + std::string(path)),
            f);
    }

    json parsed;
    auto ct = req.find(bhttp::field::content_type);
    const bool json_body = ct == req.end() || ct->value().starts_with("application/json");
    if (json_body && !req.body().empty()) {
        parsed = json::parse(req.body(), nullptr, false);
        if (parsed.is_discarded()) {
            co_return http::make_response(
                req, status::bad_request,
                http::openai_error("invalid_request_error", "invalid_json", "invalid JSON body"));
        }
    }
    const auto model = model_of(parsed);
    const auto prompt = prompt_tokens_of(body_bytes);
    const bool post = req.method() == bhttp::verb::post;
    const bool get = req.method() == bhttp::verb::get;

    if (post && path == "/v1/chat/completions") {
        const auto answer = chat_answer_of(parsed);
        const bool tool_call = !answer.tool_name.empty();
        std::string text = answer.pieces.empty() && !tool_call ? reply_text() : std::string();
        for (const auto& p : answer.pieces)
            text += p;
        if (wants_stream(parsed)) {
            std::vector<json> deltas;
            if (tool_call) {
                // As OpenAI streams a call: id and name first, the arguments in pieces.
                deltas.push_back(
                    {{"role", "assistant"},
                     {"content", nullptr},
                     {"tool_calls",
                      json::array(
                          {{{"index", 0},
                            {"id", "call_mock"},
                            {"type", "function"},
                            {"function", {{"name", answer.tool_name}, {"arguments", ""}}}}})}});
                const auto half = answer.arguments.size() / 2;
                for (auto piece :
                     {answer.arguments.substr(0, half), answer.arguments.substr(half)}) {
                    deltas.push_back(
                        {{"tool_calls",
                          json::array({{{"index", 0}, {"function", {{"arguments", piece}}}}})}});
                }
            } else {
                deltas.push_back({{"role", "assistant"}, {"content", ""}});
                if (answer.pieces.empty()) {
                    const auto words = std::min<std::uint64_t>(
                        max_stream_events,
                        header_u64(req, "x-mock-stream-events", std::size(reply_words)));
                    for (std::uint64_t i = 0; i < words; ++i)
                        deltas.push_back({{"content", reply_words[i % std::size(reply_words)]}});
                } else {
                    for (const auto& p : answer.pieces)
                        deltas.push_back({{"content", p}});
                }
            }
            co_return sse_response(
                req,
                chat_stream(model, deltas, tool_call ? "tool_calls" : "stop",
                            wants_usage_chunk(parsed), prompt, usage_patch_of(req)),
                f);
        }
        json msg = {{"role", "assistant"}, {"content", text}};
        if (tool_call) {
            msg["content"] = nullptr;
            msg["tool_calls"] = json::array(
                {{{"id", "call_mock"},
                  {"type", "function"},
                  {"function", {{"name", answer.tool_name}, {"arguments", answer.arguments}}}}});
        }
        json out = {
            {"id", "chatcmpl-mock"},
            {"object", "chat.completion"},
            {"created", created_at},
            {"model", model},
            {"choices", json::array({{{"index", 0},
                                      {"message", msg},
                                      {"finish_reason", tool_call ? "tool_calls" : "stop"}}})},
            {"usage", usage_json(prompt, completion_tokens, false, usage_patch_of(req))}};
        co_return json_response(req, status::ok, out.dump(), f);
    }
    if (post && path == "/v1/completions") {
        json out = {
            {"id", "cmpl-mock"},
            {"object", "text_completion"},
            {"created", created_at},
            {"model", model},
            {"choices",
             json::array({{{"index", 0}, {"text", reply_text()}, {"finish_reason", "stop"}}})},
            {"usage", usage_json(prompt, completion_tokens, false)}};
        co_return json_response(req, status::ok, out.dump(), f);
    }
    if (post && path == "/v1/embeddings") {
        // `encoding_format: "base64"` (what the official SDKs ask for by default): the same
        // vector as little-endian float32 bytes, base64-encoded.
        const bool b64 = parsed.is_object() && parsed.value("encoding_format", "") == "base64";
        const json vec = b64 ? json(embedding_base64) : json({0.125, -0.25, 0.5, 1.0});
        json out = {
            {"object", "list"},
            {"model", model},
            {"data", json::array({{{"object", "embedding"}, {"index", 0}, {"embedding", vec}}})},
            {"usage", {{"prompt_tokens", prompt}, {"total_tokens", prompt}}}};
        co_return json_response(req, status::ok, out.dump(), f);
    }
    if (post && path == "/v1/responses") {
        if (wants_stream(parsed))
            co_return sse_response(req, responses_stream(model, prompt), f);
        co_return json_response(req, status::ok,
                                responses_object(model, prompt, "completed").dump(), f);
    }
    if (post && (path == "/v1/files" || path.starts_with("/v1/audio/"))) {
        json out = path == "/v1/files" ? json{{"id", "file-mock"},
                                              {"object", "file"},
                                              {"bytes", body_bytes},
                                              {"purpose", "batch"}}
                                       : json{{"text", reply_text()}, {"bytes", body_bytes}};
        co_return json_response(req, status::ok, out.dump(), f);
    }
    if (get && path == "/v1/models") {
        co_return json_response(req, status::ok, models_list(req).dump(), f);
    }
    if (get && path.starts_with("/v1/models/")) {
        const std::string id(path.substr(std::string_view("/v1/models/").size()));
        json out = {
            {"id", id}, {"object", "model"}, {"created", created_at}, {"owned_by", "ditto-mock"}};
        co_return json_response(req, status::ok, out.dump(), f);
    }
    co_return http::make_response(
        req, status::not_found,
        http::openai_error("invalid_request_error", "unknown_url",
                           "ditto-mock-upstream: no route for " + std::string(path)));
}

std::string mock_upstream::reject_body(http::reject_reason, std::string_view) {
    return http::openai_error("invalid_request_error", "", "rejected by ditto-mock-upstream");
}

}  // namespace ditto::mock
