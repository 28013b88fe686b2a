#include "ditto/core/json_scan.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "ditto/core/saturating.hpp"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ditto/core/strings.hpp"

namespace ditto::core {
namespace {

constexpr int max_depth = 256;

// Member names are only compared with a few short known keys, so they are decoded into a fixed
// buffer instead of a std::string: names past the SSO size ("system_fingerprint" in every
// streamed chat chunk) would otherwise cost a heap allocation per document. A longer name
// cannot equal any known key and reads back as "".
class key_buffer {
  public:
    void clear() noexcept {
        size_ = 0;
        overflow_ = false;
    }
    void append(std::string_view s) noexcept {
        if (overflow_ || s.size() > sizeof(data_) - size_) {
            overflow_ = true;
            return;
        }
        std::memcpy(data_ + size_, s.data(), s.size());
        size_ += s.size();
    }
    key_buffer& operator+=(char c) noexcept {
        append(std::string_view(&c, 1));
        return *this;
    }
    std::string_view view() const noexcept {
        return overflow_ ? std::string_view() : std::string_view(data_, size_);
    }

  private:
    char data_[64];
    std::size_t size_ = 0;
    bool overflow_ = false;
};

// A recursive-descent validator over a string_view. Every function advances `pos_` past what
// it accepted and returns false on the first syntax error.
class scanner {
  public:
    explicit scanner(std::string_view t) : t_(t) {}

    // A response body: only its top-level `usage` object is read (docs/governance.md).
    bool usage_document(usage_fields& out) {
        skip_ws();
        if (peek() != '{')
            return value(0) && (skip_ws(), pos_ == t_.size());
        const bool ok = members(1, true, [&](std::string_view key) {
            if (key == "usage" && peek() == '{')
                return usage_object(2, out);
            if (key == "usageMetadata" && peek() == '{')
                return usage_metadata(2, out);
            return value(1);
        });
        skip_ws();
        return ok && pos_ == t_.size();
    }

    // One SSE event's data: the top-level `usage`, else the Responses API's `response.usage`,
    // and whether `choices` is an empty array (what marks the extra include_usage chunk).
    bool stream_event_document(stream_event_fields& out) {
        skip_ws();
        if (peek() != '{')
            return value(0) && (skip_ws(), pos_ == t_.size());
        // Kept apart so a top-level `usage` wins whichever of the two comes first.
        usage_fields nested;
        const bool ok = members(1, true, [&](std::string_view key) {
            const char c = peek();
            if (key == "usage" && c == '{')
                return usage_object(2, out.usage);
            if (key == "usageMetadata" && c == '{')
                return usage_metadata(2, out.usage);
            // Responses API events nest it in `response`, Anthropic's message_start in
            // `message`.
            if ((key == "response" || key == "message") && c == '{') {
                return members(2, true, [&](std::string_view inner) {
                    if (inner == "usage" && peek() == '{')
                        return usage_object(3, nested);
                    return value(2);
                });
            }
            const std::size_t begin = pos_;
            if (!value(1))
                return false;
            if (key == "choices")
                out.choices_empty = c == '[' && empty_array_at(begin);
            return true;
        });
        skip_ws();
        if (!ok || pos_ != t_.size())
            return false;
        if (!out.usage.present && nested.present) {
            out.usage = nested;
            out.usage_from_response = true;
        }
        return true;
    }

    bool document(request_fields& out) {
        skip_ws();
        if (peek() == '{') {
            out.is_object = true;
            // Depth 1, as value(0) gives a top-level array: both count the outermost level.
            if (!object(1, &out))
                return false;
        } else if (!value(0)) {
            return false;
        }
        skip_ws();
        return pos_ == t_.size();
    }

  private:
    char peek() const { return pos_ < t_.size() ? t_[pos_] : '\0'; }
    bool eat(char c) {
        if (peek() != c)
            return false;
        ++pos_;
        return true;
    }
    void skip_ws() {
        while (pos_ < t_.size()) {
            const char c = t_[pos_];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                break;
            ++pos_;
        }
    }
    bool literal(std::string_view word) {
        if (t_.substr(pos_, word.size()) != word)
            return false;
        pos_ += word.size();
        return true;
    }

    template <class Sink>
    static void append_utf8(Sink& s, std::uint32_t cp) {
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else if (cp < 0x800) {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            s += static_cast<char>(0xE0 | (cp >> 12));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            s += static_cast<char>(0xF0 | (cp >> 18));
            s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(std::uint32_t& v) {
        if (pos_ + 4 > t_.size())
            return false;
        v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex_value(t_[pos_ + i]);
            if (h < 0)
                return false;
            v = (v << 4) | static_cast<std::uint32_t>(h);
        }
        pos_ += 4;
        return true;
    }

    // Skips 8 bytes at a time while none of them is '"', '\\' or a control character: the
    // bulk of a chat body is message text, and this is where the scan spends its time.
    void skip_plain() {
#if defined(__SSE2__)
        // Sixteen at a time where SSE2 is there (every x86-64), stopping on the special byte.
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        const __m128i control_max = _mm_set1_epi8(0x1F);
        while (pos_ + 16 <= t_.size()) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t_.data() + pos_));
            const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v);
            const __m128i special = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
            if (const int mask = _mm_movemask_epi8(special); mask != 0) {
                pos_ += static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
                return;
            }
            pos_ += 16;
        }
#endif
        constexpr std::uint64_t ones = 0x0101010101010101ULL;
        constexpr std::uint64_t highs = 0x8080808080808080ULL;
        while (pos_ + 8 <= t_.size()) {
            std::uint64_t v;
            std::memcpy(&v, t_.data() + pos_, 8);
            const auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
            const std::uint64_t special = zero_byte(v ^ (ones * '"')) |
                                          zero_byte(v ^ (ones * '\\')) |
                                          ((v - ones * 0x20) & ~v & highs);
            if (special)
                return;
            pos_ += 8;
        }
    }

    bool string(std::nullptr_t) {
        return string<key_buffer>(nullptr);
    }

    // Parses a string token; unescapes into `decoded` when it is non-null.
    template <class Sink>
    bool string(Sink* decoded) {
        if (!eat('"'))
            return false;
        std::size_t run = pos_;  // start of the current unescaped run
        for (;;) {
            if (pos_ >= t_.size())
                return false;
            const char c = t_[pos_];
            if (c == '"') {
                if (decoded)
                    decoded->append(t_.substr(run, pos_ - run));
                ++pos_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                return false;
            if (c != '\\') {
                ++pos_;
                skip_plain();
                continue;
            }
            if (decoded)
                decoded->append(t_.substr(run, pos_ - run));
            ++pos_;
            const char e = peek();
            ++pos_;
            switch (e) {
                case '"':
                    if (decoded)
                        *decoded += '"';
                    break;
                case '\\':
                    if (decoded)
                        *decoded += '\\';
                    break;
                case '/':
                    if (decoded)
                        *decoded += '/';
                    break;
                case 'b':
                    if (decoded)
                        *decoded += '\b';
                    break;
                case 'f':
                    if (decoded)
                        *decoded += '\f';
                    break;
                case 'n':
                    if (decoded)
                        *decoded += '\n';
                    break;
                case 'r':
                    if (decoded)
                        *decoded += '\r';
                    break;
                case 't':
                    if (decoded)
                        *decoded += '\t';
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp))
                        return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        std::uint32_t lo = 0;
                        if (!literal("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) {
                            return false;
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    if (decoded)
                        append_utf8(*decoded, cp);
                    break;
                }
                default:
                    return false;
            }
            run = pos_;
        }
    }

    bool number() {
        const std::size_t start = pos_;
        eat('-');
        const std::size_t int_start = pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9')
                ++pos_;
        } else {
            return false;
        }
        const std::size_t int_digits = pos_ - int_start;
        if (eat('.')) {
            if (!(peek() >= '0' && peek() <= '9'))
                return false;
            while (peek() >= '0' && peek() <= '9')
                ++pos_;
        }
        bool exponent = false;
        if (peek() == 'e' || peek() == 'E') {
            exponent = true;
            ++pos_;
            if (peek() == '+' || peek() == '-')
                ++pos_;
            if (!(peek() >= '0' && peek() <= '9'))
                return false;
            while (peek() >= '0' && peek() <= '9')
                ++pos_;
        }
        // A value past the largest double is refused, as the config reader and nlohmann (which
        // schema guardrails use) refuse it, so all of the gateway's readers agree on what is
        // JSON. Only a number with an exponent or 300+ integer digits can overflow, so the
        // common "temperature": 0.7 never pays for strtod.
        if (exponent || int_digits > 300)
            return fits_a_double(t_.substr(start, pos_ - start));
        return true;
    }

    static bool fits_a_double(std::string_view token) {
        const std::string copy(token);  // strtod needs a terminated string
        return !std::isinf(std::strtod(copy.c_str(), nullptr));
    }

    bool value(int depth) {
        switch (peek()) {
            case '{':
                return object(depth + 1, nullptr);
            case '[':
                return array(depth + 1);
            case '"':
                return string(nullptr);
            case 't':
                return literal("true");
            case 'f':
                return literal("false");
            case 'n':
                return literal("null");
            default:
                return number();
        }
    }

    bool array(int depth) {
        if (depth > max_depth || !eat('['))
            return false;
        skip_ws();
        if (eat(']'))
            return true;
        for (;;) {
            skip_ws();
            if (!value(depth))
                return false;
            skip_ws();
            if (eat(']'))
                return true;
            if (!eat(','))
                return false;
        }
    }

    // `{ "key": value, ... }`; `on_member(key)` parses each value. Keys are decoded only when
    // someone looks at them (nested objects are just validated).
    template <class OnMember>
    bool members(int depth, bool decode_keys, OnMember&& on_member) {
        if (depth > max_depth || !eat('{'))
            return false;
        skip_ws();
        if (eat('}'))
            return true;
        key_buffer key;
        for (;;) {
            skip_ws();
            key.clear();
            if (!string(decode_keys ? &key : nullptr))
                return false;
            skip_ws();
            if (!eat(':'))
                return false;
            skip_ws();
            if (!on_member(key.view()))
                return false;
            skip_ws();
            if (eat('}'))
                return true;
            if (!eat(','))
                return false;
        }
    }

    // Top-level object (`out` set) records the interesting members; nested ones only validate.
    bool object(int depth, request_fields* out) {
        return members(depth, out != nullptr, [&](std::string_view key) {
            return out ? member(depth, key, *out) : value(depth);
        });
    }

    // The already validated array token starting at `begin` is `[]` (whitespace allowed).
    bool empty_array_at(std::size_t begin) const {
        std::size_t p = begin + 1;
        while (t_[p] == ' ' || t_[p] == '\t' || t_[p] == '\n' || t_[p] == '\r')
            ++p;
        return t_[p] == ']';
    }

    std::optional<std::uint64_t> unsigned_at(std::size_t begin) const {
        std::uint64_t v = 0;
        const char* first = t_.data() + begin;
        const char* last = t_.data() + pos_;
        auto [p, ec] = std::from_chars(first, last, v);
        if (ec != std::errc() || p != last)
            return std::nullopt;
        return v;
    }

    bool member(int depth, std::string_view key, request_fields& out) {
        const std::size_t begin = pos_;
        const char c = peek();
        if (key == "model" && c == '"') {
            std::string v;
            if (!string(&v))
                return false;
            out.model = std::move(v);
            out.model_span = {begin, pos_};
            return true;
        }
        if (key == "service_tier" && c == '"') {
            std::string v;
            if (!string(&v))
                return false;
            out.service_tier = std::move(v);
            return true;
        }
        if (key == "stream_options" && c == '{') {
            if (!stream_options(depth + 1, out))
                return false;
            out.stream_options_span = json_span{begin, pos_};
            return true;
        }
        if (!value(depth))
            return false;
        if (key == "stream") {
            if (c == 't')
                out.stream = true;
            if (c == 'f')
                out.stream = false;
        } else if (key == "max_tokens") {
            token_limit("max_tokens", begin, out.max_tokens, out);
        } else if (key == "max_completion_tokens") {
            token_limit("max_completion_tokens", begin, out.max_completion_tokens, out);
        } else if (key == "max_output_tokens") {
            token_limit("max_output_tokens", begin, out.max_output_tokens, out);
        }
        return true;
    }

    // The already validated value at `begin` of a token-limit member: null is unset; anything
    // but a plain integer in [1, max_token_limit] is recorded as the request's fault (the
    // first one wins) instead of being read as unset. A duplicate member keeps the last value,
    // as nlohmann does, but a bad earlier one still refuses the request: upstreams differ on
    // which duplicate they read.
    void token_limit(std::string_view field, std::size_t begin, std::optional<std::uint64_t>& slot,
                     request_fields& out) const {
        using reason = token_limit_error::reason;
        slot.reset();
        const auto refuse = [&](reason why, std::string_view got) {
            if (!out.bad_token_limit)
                out.bad_token_limit = token_limit_error{field, why, got};
        };
        const std::string_view token = t_.substr(begin, pos_ - begin);
        switch (token.front()) {
            case 'n':
                return;
            case '"':
                return refuse(reason::not_an_integer, "a string");
            case 't':
            case 'f':
                return refuse(reason::not_an_integer, "a boolean");
            case '[':
                return refuse(reason::not_an_integer, "an array");
            case '{':
                return refuse(reason::not_an_integer, "an object");
            default:
                break;
        }
        if (token.find_first_of(".eE") != std::string_view::npos)
            return refuse(reason::not_an_integer, "a decimal number");
        if (token.front() == '-')
            return refuse(reason::below_minimum, {});  // -0 included
        const auto v = unsigned_at(begin);             // nullopt: 2^64 or more
        if (!v || *v > max_token_limit)
            return refuse(reason::above_maximum, {});
        if (*v == 0)
            return refuse(reason::below_minimum, {});
        slot = v;
    }

    // The members of `usage` (and of its *_details objects) that docs/governance.md lists.
    // Anthropic's usage (docs/dialects.md) counts cache reads and writes apart from `input_tokens`,
    // where OpenAI's `prompt_tokens` includes them: with `cache_read_input_tokens` or
    // `cache_creation_input_tokens` beside an `input_tokens`, the input is their sum, so
    // `input` means the whole prompt whoever answered.
    bool usage_object(int depth, usage_fields& out) {
        out.present = true;
        bool input_named_input = false;
        std::optional<std::uint64_t> cache_read;
        const bool ok = members(depth, true, [&](std::string_view key) {
            const std::size_t begin = pos_;
            if ((key.ends_with("_details")) && peek() == '{') {
                return members(depth + 1, true, [&](std::string_view inner) {
                    const std::size_t b = pos_;
                    if (!value(depth + 1))
                        return false;
                    if (inner == "reasoning_tokens")
                        out.reasoning = unsigned_at(b);
                    if (inner == "cached_tokens")
                        out.cached = unsigned_at(b);
                    if (inner == "cache_creation_tokens")
                        out.creation = unsigned_at(b);
                    return true;
                });
            }
            if (!value(depth))
                return false;
            const auto v = unsigned_at(begin);
            if (key == "input_tokens" || key == "prompt_tokens") {
                out.input = v;
                input_named_input = key == "input_tokens";
            }
            if (key == "output_tokens" || key == "completion_tokens")
                out.output = v;
            if (key == "total_tokens")
                out.total = v;
            if (key == "reasoning_tokens")
                out.reasoning = v;
            if (key == "cache_creation_input_tokens")
                out.creation = v;
            if (key == "cache_read_input_tokens")
                cache_read = v;
            return true;
        });
        if (ok && input_named_input && out.input && (cache_read || out.creation)) {
            out.cached = cache_read;
            out.input =
                sat_add(sat_add(*out.input, cache_read.value_or(0)), out.creation.value_or(0));
        }
        return ok;
    }

    // Gemini's `usageMetadata` (docs/dialects.md): its candidates count leaves out the
    // thinking tokens that OpenAI's completion_tokens include, so output is their sum.
    bool usage_metadata(int depth, usage_fields& out) {
        out.present = true;
        std::optional<std::uint64_t> candidates, thoughts;
        const bool ok = members(depth, true, [&](std::string_view key) {
            const std::size_t begin = pos_;
            if (!value(depth))
                return false;
            const auto v = unsigned_at(begin);
            if (key == "promptTokenCount")
                out.input = v;
            if (key == "candidatesTokenCount")
                candidates = v;
            if (key == "thoughtsTokenCount")
                thoughts = v;
            if (key == "cachedContentTokenCount")
                out.cached = v;
            if (key == "totalTokenCount")
                out.total = v;
            return true;
        });
        if (candidates || thoughts)
            out.output = sat_add(candidates.value_or(0), thoughts.value_or(0));
        out.reasoning = thoughts;
        return ok;
    }

    bool stream_options(int depth, request_fields& out) {
        return members(depth, true, [&](std::string_view key) {
            const char c = peek();
            if (!value(depth))
                return false;
            if (key == "include_usage" && (c == 't' || c == 'f'))
                out.include_usage = c == 't';
            return true;
        });
    }

    std::string_view t_;
    std::size_t pos_ = 0;
};

}  // namespace

namespace {
// Validates `text` and runs one scanner pass into `out`; `out` is left empty when invalid.
template <class Fields, class Pass>
bool scan_into(std::string_view text, Fields& out, Pass pass) {
    out = Fields{};
    scanner sc(text);
    if (is_valid_utf8(text) && (sc.*pass)(out))
        return true;
    out = Fields{};
    return false;
}
}  // namespace

bool scan_usage_json(std::string_view text, usage_fields& out) {
    return scan_into(text, out, &scanner::usage_document);
}

bool scan_stream_event_json(std::string_view text, stream_event_fields& out) {
    return scan_into(text, out, &scanner::stream_event_document);
}

std::optional<std::uint64_t> usage_fields::total_tokens() const {
    if (total)
        return total;
    if (input && output)
        return sat_add(*input, *output);  // two huge reported counts must not wrap to a small one
    return std::nullopt;
}

bool scan_request_json(std::string_view text, request_fields& out) {
    return scan_into(text, out, &scanner::document);
}

void append_escaped(std::string& out, std::string_view s, std::string_view hex_prefix,
                    bool escape_quotes, bool escape_del) {
    static constexpr char hexd[] = "0123456789abcdef";
    // Plain runs are copied whole: values (ids, paths, models) rarely need an escape. Eight
    // bytes are ruled out at a time (SWAR): no control byte, quote, backslash or DEL in them.
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const auto has_zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        while (s.size() - i >= 8) {
            std::uint64_t v;
            std::memcpy(&v, s.data() + i, 8);
            std::uint64_t hit = (v - ones * 0x20) & ~v & highs;  // a byte below 0x20
            if (escape_quotes)
                hit |= has_zero(v ^ (ones * '"')) | has_zero(v ^ (ones * '\\'));
            if (escape_del)
                hit |= has_zero(v ^ (ones * 0x7f));
            if (hit != 0)
                break;
            i += 8;
        }
        if (i >= s.size())
            break;
        const auto c = static_cast<unsigned char>(s[i]);
        const bool special =
            c < 0x20 || (escape_del && c == 0x7f) || (escape_quotes && (c == '"' || c == '\\'));
        if (!special)
            continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                out += hex_prefix;
                out += hexd[c >> 4];
                out += hexd[c & 0xF];
        }
    }
    out.append(s.data() + run, s.size() - run);
}

void json_quote_into(std::string& out, std::string_view s) {
    out += '"';
    append_escaped(out, s, "\\u00", true, false);
    out += '"';
}

std::string json_quote(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    json_quote_into(out, s);
    return out;
}

}  // namespace ditto::core
