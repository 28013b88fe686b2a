#include "ditto/core/json_dom.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "ditto/core/strings.hpp"

namespace ditto::core {

double json_node::f64() const {
    switch (type_) {
        case kind::unsigned_int:
            return static_cast<double>(v_.u);
        case kind::signed_int:
            return static_cast<double>(v_.i);
        case kind::real:
            return v_.d;
        default:
            return 0.0;
    }
}

const json_node* json_node::find(std::string_view name) const {
    if (!is_object())
        return nullptr;
    const json_node* found = nullptr;
    for (const auto& m : *this) {
        if (m.key() == name)
            found = &m;
    }
    return found;
}

namespace {
constexpr int max_depth = 512;
}  // namespace

class json_dom::parser {
  public:
    parser(json_dom& dom, std::string_view text)
        : dom_(dom), p_(text.data()), begin_(text.data()), end_(text.data() + text.size()) {}

    bool document() {
        if (static_cast<std::uint64_t>(end_ - begin_) >= std::numeric_limits<std::uint32_t>::max())
            return fail("document larger than 4 GiB");
        // A UTF-8 byte order mark at the very start is skipped, as nlohmann skips it (editors
        // on Windows write one).
        if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0)
            p_ += 3;
        skip_ws();
        if (!value(0))
            return false;
        skip_ws();
        if (p_ != end_)
            return fail("unexpected text after the value");
        return true;
    }

  private:
    bool fail(const char* why) {
        if (dom_.error_.empty()) {
            dom_.error_ = why;
            dom_.error_offset_ = static_cast<std::size_t>(p_ - begin_);
        }
        return false;
    }

    void skip_ws() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
            ++p_;
    }

    std::size_t push(json_node::kind k) {
        dom_.nodes_.emplace_back();
        dom_.nodes_.back().type_ = k;
        return dom_.nodes_.size() - 1;
    }

    bool value(int depth) {
        if (p_ == end_)
            return fail("unexpected end of input; expected a value");
        switch (*p_) {
            case '{':
                return object(depth + 1);
            case '[':
                return array(depth + 1);
            case '"': {
                const auto i = push(json_node::kind::string);
                const char* s = nullptr;
                std::uint32_t n = 0;
                if (!string(s, n))
                    return false;
                dom_.nodes_[i].v_.s = s;
                dom_.nodes_[i].len_ = n;
                return true;
            }
            case 't':
                return literal("true", json_node::kind::boolean, true);
            case 'f':
                return literal("false", json_node::kind::boolean, false);
            case 'n':
                return literal("null", json_node::kind::null, false);
            default:
                if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))
                    return number();
                return fail("unexpected character; expected a value");
        }
    }

    bool literal(std::string_view word, json_node::kind k, bool b) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0)
            return fail("invalid literal");
        p_ += word.size();
        dom_.nodes_[push(k)].v_.b = b;
        return true;
    }

    bool object(int depth) {
        return container(depth, json_node::kind::object, '}', "expected ',' or '}' in an object",
                         [this, depth] { return member(depth); });
    }

    bool array(int depth) {
        return container(depth, json_node::kind::array, ']', "expected ',' or ']' in an array",
                         [this, depth] { return value(depth); });
    }

    // `"name": value` inside an object; the name goes on the value's node.
    bool member(int depth) {
        if (p_ == end_ || *p_ != '"')
            return fail("expected a member name");
        const char* key = nullptr;
        std::uint32_t key_len = 0;
        if (!string(key, key_len))
            return false;
        skip_ws();
        if (p_ == end_ || *p_ != ':')
            return fail("expected ':' after a member name");
        ++p_;
        skip_ws();
        const auto child = dom_.nodes_.size();
        if (!value(depth))
            return false;
        dom_.nodes_[child].key_ = key;
        dom_.nodes_[child].key_len_ = key_len;
        return true;
    }

    // An object or array at p_: items separated by ',' up to `close`.
    template <typename Item>
    bool container(int depth, json_node::kind k, char close, const char* expected, Item item) {
        if (depth > max_depth)
            return fail("nesting deeper than 512");
        const auto self = push(k);
        ++p_;  // '{' or '['
        skip_ws();
        std::uint32_t count = 0;
        if (p_ != end_ && *p_ == close) {
            ++p_;
        } else {
            for (;;) {
                if (!item())
                    return false;
                ++count;
                skip_ws();
                if (p_ != end_ && *p_ == ',') {
                    ++p_;
                    skip_ws();
                    continue;
                }
                if (p_ != end_ && *p_ == close) {
                    ++p_;
                    break;
                }
                return fail(expected);
            }
        }
        auto& n = dom_.nodes_[self];
        n.len_ = count;
        n.span_ = static_cast<std::uint32_t>(dom_.nodes_.size() - self);
        return true;
    }

    // A string token at p_ ('"'). Without escapes the result points into the text; with
    // them, into the arena, which is sized for the whole text so that it never moves.
    bool string(const char*& out, std::uint32_t& len) {
        ++p_;
        const char* start = p_;
        bool non_ascii = false;
        while (p_ != end_) {
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                if (non_ascii && !is_valid_utf8(std::string_view(start, p_ - start)))
                    return fail("invalid UTF-8 in a string");
                out = start;
                len = static_cast<std::uint32_t>(p_ - start);
                ++p_;
                return true;
            }
            if (c == '\\')
                return escaped(start, non_ascii, out, len);
            if (c < 0x20)
                return fail("control character in a string");
            non_ascii |= c >= 0x80;
            ++p_;
        }
        return fail("unterminated string");
    }

    bool escaped(const char* start, bool non_ascii, const char*& out, std::uint32_t& len) {
        if (!dom_.arena_)
            dom_.arena_ =
                std::make_unique_for_overwrite<char[]>(static_cast<std::size_t>(end_ - begin_));
        char* const first = dom_.arena_.get() + arena_used_;
        char* w = first;
        const auto plain = static_cast<std::size_t>(p_ - start);
        std::memcpy(w, start, plain);
        w += plain;
        const char* raw_start = start;
        while (p_ != end_) {
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                if (non_ascii && !is_valid_utf8(std::string_view(raw_start, p_ - raw_start)))
                    return fail("invalid UTF-8 in a string");
                ++p_;
                out = first;
                len = static_cast<std::uint32_t>(w - first);
                arena_used_ += len;
                return true;
            }
            if (c < 0x20)
                return fail("control character in a string");
            if (c != '\\') {
                non_ascii |= c >= 0x80;
                *w++ = *p_++;
                continue;
            }
            if (++p_ == end_)
                break;
            switch (*p_++) {
                case '"':
                    *w++ = '"';
                    break;
                case '\\':
                    *w++ = '\\';
                    break;
                case '/':
                    *w++ = '/';
                    break;
                case 'b':
                    *w++ = '\b';
                    break;
                case 'f':
                    *w++ = '\f';
                    break;
                case 'n':
                    *w++ = '\n';
                    break;
                case 'r':
                    *w++ = '\r';
                    break;
                case 't':
                    *w++ = '\t';
                    break;
                case 'u':
                    if (!unicode(w))
                        return false;
                    break;
                default:
                    --p_;
                    return fail("invalid escape in a string");
            }
        }
        return fail("unterminated string");
    }

    bool hex4(std::uint32_t& out) {
        if (end_ - p_ < 4)
            return fail("truncated \\u escape");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int v = hex_value(*p_);
            if (v < 0)
                return fail("invalid \\u escape");
            out = out << 4 | static_cast<std::uint32_t>(v);
            ++p_;
        }
        return true;
    }

    // After "\u": one code point (a surrogate pair counts as one), written as UTF-8. Each
    // encoding is no longer than the escape text it came from, so the arena suffices.
    bool unicode(char*& w) {
        std::uint32_t cp = 0;
        if (!hex4(cp))
            return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail("lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
                return fail("high surrogate not followed by a low one");
            p_ += 2;
            std::uint32_t low = 0;
            if (!hex4(low))
                return false;
            if (low < 0xDC00 || low > 0xDFFF)
                return fail("high surrogate not followed by a low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (cp < 0x80) {
            *w++ = static_cast<char>(cp);
        } else if (cp < 0x800) {
            *w++ = static_cast<char>(0xC0 | cp >> 6);
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *w++ = static_cast<char>(0xE0 | cp >> 12);
            *w++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            *w++ = static_cast<char>(0xF0 | cp >> 18);
            *w++ = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
            *w++ = static_cast<char>(0x80 | (cp & 0x3F));
        }
        return true;
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    // RFC 8259 number grammar; integers that fit 64 bits stay integers (unsigned when not
    // negative), everything else is a double, as nlohmann types them.
    bool number() {
        const char* start = p_;
        const bool negative = *p_ == '-';
        if (negative)
            ++p_;
        if (p_ == end_ || !digit(*p_))
            return fail("invalid number");
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ != end_ && digit(*p_))
                ++p_;
        }
        bool integer = true;
        if (p_ != end_ && *p_ == '.') {
            integer = false;
            ++p_;
            if (p_ == end_ || !digit(*p_))
                return fail("invalid number: expected a digit after '.'");
            while (p_ != end_ && digit(*p_))
                ++p_;
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            integer = false;
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-'))
                ++p_;
            if (p_ == end_ || !digit(*p_))
                return fail("invalid number: expected a digit in the exponent");
            while (p_ != end_ && digit(*p_))
                ++p_;
        }
        const std::string_view token(start, static_cast<std::size_t>(p_ - start));
        if (integer && !negative) {
            std::uint64_t v = 0;
            bool fits = true;
            for (const char c : token) {
                const auto d = static_cast<std::uint64_t>(c - '0');
                if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
                    fits = false;
                    break;
                }
                v = v * 10 + d;
            }
            if (fits) {
                dom_.nodes_[push(json_node::kind::unsigned_int)].v_.u = v;
                return true;
            }
        } else if (integer) {
            // Accumulated negatively so that INT64_MIN fits.
            std::int64_t v = 0;
            bool fits = true;
            for (const char c : token.substr(1)) {
                const auto d = static_cast<std::int64_t>(c - '0');
                if (v < (std::numeric_limits<std::int64_t>::min() + d) / 10) {
                    fits = false;
                    break;
                }
                v = v * 10 - d;
            }
            if (fits) {
                dom_.nodes_[push(json_node::kind::signed_int)].v_.i = v;
                return true;
            }
        }
        // strtod, like nlohmann: a value too small becomes 0, one too large is an error.
        const std::string copy(token);
        const double d = std::strtod(copy.c_str(), nullptr);
        if (std::isinf(d))
            return fail("number overflow");
        dom_.nodes_[push(json_node::kind::real)].v_.d = d;
        return true;
    }

    json_dom& dom_;
    const char* p_;
    const char* const begin_;
    const char* const end_;
    std::size_t arena_used_ = 0;
};

bool json_dom::parse(std::string_view text) {
    nodes_.clear();
    arena_.reset();
    error_.clear();
    error_offset_ = 0;
    // A rough guess (a node per 12 bytes of text) saves most regrowths of a large document.
    nodes_.reserve(text.size() / 12 + 1);
    parser p(*this, text);
    if (p.document())
        return true;
    nodes_.clear();
    nodes_.emplace_back();  // root() stays callable: a null
    return false;
}

}  // namespace ditto::core
