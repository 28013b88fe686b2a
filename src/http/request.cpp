#include "ditto/http/request.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

#include "ditto/core/strings.hpp"

namespace ditto::http {

namespace bhttp = boost::beast::http;

namespace {

// Calls `fn` with each comma-separated token of a Connection value, trimmed.
template <class Fn>
void each_token(std::string_view list, Fn fn) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto token = core::trim(list.substr(0, comma));
        if (!token.empty())
            fn(token);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
}

// A name's field enum, remembered per thread: the gateway sets and looks up the same few
// names by text on every request (x-request-id, x-ditto-*, a backend's configured headers),
// and Beast's string_to_field hashes the whole name each time (about 90 instructions, 8
// times per proxied request; docs/performance.md). A table of 64 sets of two names, indexed
// by a hash of the name's last 8 bytes; each name is compared byte for byte, so a different
// spelling or a collision only costs the lookup.
bhttp::field field_of(std::string_view name) {
    struct remembered {
        std::uint8_t size = 0;
        char text[39];
        bhttp::field f;
    };
    constexpr std::size_t sets = 64;
    thread_local std::array<std::array<remembered, 2>, sets> memo{};
    if (name.empty() || name.size() > sizeof(remembered::text))
        return bhttp::string_to_field(name);
    std::uint64_t tail = 0;
    const auto n = std::min<std::size_t>(name.size(), 8);
    std::memcpy(&tail, name.data() + name.size() - n, n);
    const auto h = ((tail ^ name.size()) * 0x9E3779B97F4A7C15ULL) >> 58;  // 6 bits: 64 sets
    auto& set = memo[h];
    const auto same = [&](const remembered& m) {
        return m.size == name.size() && std::memcmp(m.text, name.data(), name.size()) == 0;
    };
    if (same(set[0]))
        return set[0].f;
    if (same(set[1]))
        return set[1].f;
    set[1] = set[0];  // the newest first; the older of the two makes room
    auto& m = set[0];
    m.f = bhttp::string_to_field(name);
    m.size = static_cast<std::uint8_t>(name.size());
    std::memcpy(m.text, name.data(), name.size());
    return m.f;
}

}  // namespace

bool header_list::matches(const slot& s, bhttp::field f, std::string_view name) const {
    if (f != bhttp::field::unknown)
        return s.f == f;
    return s.f == bhttp::field::unknown && core::iequals(text(s.name_off, s.name_len), name);
}

// A known name is looked up by its enum, whatever its spelling; only unknown names compare text.
std::size_t header_list::index_of(bhttp::field f, std::string_view name) const {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (matches(slots_[i], f, name))
            return i;
    }
    return slots_.size();
}

header_list::const_iterator header_list::find(bhttp::field f) const {
    return {this, index_of(f, {})};
}

header_list::const_iterator header_list::find(std::string_view name) const {
    return {this, index_of(field_of(name), name)};
}

std::size_t header_list::count(bhttp::field f) const {
    std::size_t n = 0;
    for (const auto& s : slots_)
        n += s.f == f;
    return n;
}

std::size_t header_list::count(std::string_view name) const {
    const auto f = field_of(name);
    std::size_t n = 0;
    for (const auto& s : slots_)
        n += matches(s, f, name);
    return n;
}

std::string_view header_list::operator[](bhttp::field f) const {
    const auto i = index_of(f, {});
    return i < slots_.size() ? at(i).value() : std::string_view{};
}

std::string_view header_list::operator[](std::string_view name) const {
    const auto i = index_of(field_of(name), name);
    return i < slots_.size() ? at(i).value() : std::string_view{};
}

namespace {
// True when `s` points into `store`: growing the store would free what `s` shows.
bool inside(std::string_view s, const char* store, std::uint32_t size) {
    const std::less<const char*> before;
    return !s.empty() && store != nullptr && !before(s.data(), store) &&
           before(s.data(), store + size);
}
}  // namespace

// A value taken from this same head (`h.set(x, h[y])`) is copied out first: the append may
// move the bytes it points into.
std::uint32_t header_list::keep(std::string_view s) {
    if (inside(s, bytes_.data(), bytes_.size())) {
        const std::string copy(s);
        return bytes_.append(copy);
    }
    return bytes_.append(s);
}

// One allocation for a whole head (512 bytes hold a typical one), doubled when it does not fit;
// a head past 4 GiB is refused rather than wrapping the 32-bit offsets.
void header_list::byte_store::grow(std::size_t more) {
    const std::size_t need = std::size_t{size_} + more;
    if (need > std::numeric_limits<std::uint32_t>::max())
        throw std::length_error("http head too large");
    std::size_t cap = std::max<std::size_t>(cap_ == 0 ? 512 : std::size_t{cap_} * 2, need);
    cap = std::min<std::size_t>(cap, std::numeric_limits<std::uint32_t>::max());
    auto* fresh = new char[cap];
    if (size_ > 0)
        std::memcpy(fresh, data_, size_);
    delete[] data_;
    data_ = fresh;
    cap_ = static_cast<std::uint32_t>(cap);
}

header_list::byte_store& header_list::byte_store::operator=(const byte_store& o) {
    if (this == &o)
        return *this;
    size_ = 0;
    if (o.size_ > cap_)
        grow(o.size_);
    if (o.size_ > 0)
        std::memcpy(data_, o.data_, o.size_);
    size_ = o.size_;
    return *this;
}

header_list::byte_store& header_list::byte_store::operator=(byte_store&& o) noexcept {
    if (this == &o)
        return *this;
    delete[] data_;
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    cap_ = std::exchange(o.cap_, 0);
    return *this;
}

void header_list::insert(bhttp::field f, std::string_view name, std::string_view value) {
    if (inside(name, bytes_.data(), bytes_.size()) || inside(value, bytes_.data(), bytes_.size())) {
        const std::string n(name), v(value);
        insert(f, n, v);
        return;
    }
    const auto off = keep(name);
    keep(value);
    slots_.push_back(slot{f, off, static_cast<std::uint32_t>(name.size()),
                          static_cast<std::uint32_t>(value.size())});
}

void header_list::insert(bhttp::field f, std::string_view value) {
    insert(f, bhttp::to_string(f), value);
}

void header_list::insert(std::string_view name, std::string_view value) {
    insert(field_of(name), name, value);
}

void header_list::set(bhttp::field f, std::string_view value) {
    erase_all(f, {});
    insert(f, value);
}

void header_list::set(std::string_view name, std::string_view value) {
    const auto f = field_of(name);
    erase_all(f, name);
    insert(f, name, value);
}

// The bytes of erased fields stay until clear(): a head is short-lived and small.
// Most sets name a field the head does not have yet: then this is one scan and no writes.
std::size_t header_list::erase_all(bhttp::field f, std::string_view name) {
    std::size_t kept = index_of(f, name);
    if (kept == slots_.size())
        return 0;
    for (std::size_t i = kept + 1; i < slots_.size(); ++i) {
        if (!matches(slots_[i], f, name))
            slots_[kept++] = slots_[i];
    }
    const auto removed = slots_.size() - kept;
    slots_.resize(kept);
    return removed;
}

std::size_t header_list::erase(bhttp::field f) {
    return erase_all(f, {});
}

std::size_t header_list::erase(std::string_view name) {
    return erase_all(field_of(name), name);
}

void header_list::clear() {
    slots_.clear();
    bytes_.clear();
}

request::request(bhttp::verb method, std::string_view target, unsigned version) {
    this->method(method);
    this->target(target);
    version_ = version;
}

void request::method(bhttp::verb v) {
    if (v == bhttp::verb::unknown)
        throw std::invalid_argument("request::method: unknown verb (use method_string)");
    verb_ = v;
    const auto s = bhttp::to_string(v);
    method_off_ = keep(s);
    method_len_ = static_cast<std::uint32_t>(s.size());
}

void request::method_string(std::string_view s) {
    verb_ = bhttp::string_to_verb(s);
    method_off_ = keep(s);
    method_len_ = static_cast<std::uint32_t>(s.size());
}

void request::target(std::string_view t) {
    target_off_ = keep(t);
    target_len_ = static_cast<std::uint32_t>(t.size());
}

bool header_list::connection_keeps_alive(unsigned version) const {
    bool close = false;
    bool keep = false;
    for (const auto& f : *this) {
        if (f.name() != bhttp::field::connection)
            continue;
        each_token(f.value(), [&](std::string_view t) {
            close = close || core::iequals(t, "close");
            keep = keep || core::iequals(t, "keep-alive");
        });
    }
    return version >= 11 ? !close : keep && !close;
}

void header_list::set_keep_alive(unsigned version, bool on) {
    erase(bhttp::field::connection);
    if (version >= 11 && !on)
        insert(bhttp::field::connection, "close");
    else if (version < 11 && on)
        insert(bhttp::field::connection, "keep-alive");
}

std::optional<std::uint64_t> header_list::declared_length() const {
    if (count(bhttp::field::content_length) != 1)
        return std::nullopt;
    const auto v = (*this)[bhttp::field::content_length];
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size() || v.empty())
        return std::nullopt;
    return n;
}

void header_list::set_content_length(std::uint64_t n) {
    char buf[24];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
    erase(bhttp::field::transfer_encoding);
    set(bhttp::field::content_length, std::string_view(buf, end - buf));
}

void request::prepare_payload() {
    if (!body_.empty() || verb_ == bhttp::verb::post || verb_ == bhttp::verb::put ||
        verb_ == bhttp::verb::patch) {
        set_content_length(body_.size());
    } else {
        erase(bhttp::field::content_length);
        erase(bhttp::field::transfer_encoding);
    }
}

void request::clear() {
    header_list::clear();
    verb_ = bhttp::verb::unknown;
    method_off_ = method_len_ = target_off_ = target_len_ = 0;
    version_ = 11;
    body_.clear();
}

}  // namespace ditto::http
