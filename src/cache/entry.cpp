#include "ditto/cache/entry.hpp"

#include <cstring>

namespace ditto::cache {
namespace {

// "dce1": ditto cache entry, version 1. A new layout takes a new magic, so replicas of two
// versions sharing a Redis read each other's entries as misses, never as garbage.
constexpr std::string_view magic = "dce1";

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_str(std::string& out, std::string_view s) {
    put_u32(out, static_cast<std::uint32_t>(s.size()));
    out.append(s);
}

class reader {
  public:
    explicit reader(std::string_view in) : in_(in) {}
    bool u32(std::uint32_t& v) {
        if (in_.size() - pos_ < 4)
            return false;
        v = 0;
        for (int i = 0; i < 4; ++i)
            v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
        pos_ += 4;
        return true;
    }
    bool str(std::string& s) {
        std::uint32_t n = 0;
        if (!u32(n) || in_.size() - pos_ < n)
            return false;
        s.assign(in_.substr(pos_, n));
        pos_ += n;
        return true;
    }
    bool skip(std::string_view expected) {
        if (in_.substr(pos_, expected.size()) != expected)
            return false;
        pos_ += expected.size();
        return true;
    }
    bool at_end() const { return pos_ == in_.size(); }

  private:
    std::string_view in_;
    std::size_t pos_ = 0;
};

bool read_metadata(reader& r, entry_metadata& m) {
    std::uint32_t has_model = 0;
    if (!r.skip(magic) || !r.str(m.scope) || !r.str(m.method) || !r.str(m.path) ||
        !r.u32(has_model) || has_model > 1) {
        return false;
    }
    if (has_model == 1) {
        m.model.emplace();
        if (!r.str(*m.model))
            return false;
    }
    return r.str(m.route_partition);
}

}  // namespace

std::string wire_headers(const entry& e) {
    std::string out;
    for (const auto& [name, value] : e.headers)
        out.append(name).append(": ").append(value).append("\r\n");
    return out;
}

std::uint64_t entry::bytes() const {
    std::uint64_t n = body.size() + wire.size() + backend.size() + meta.scope.size() +
                      meta.method.size() + meta.path.size() + meta.route_partition.size() +
                      (meta.model ? meta.model->size() : 0);
    for (const auto& [name, value] : headers)
        n += name.size() + value.size();
    return n;
}

std::string encode(const entry& e) {
    std::string out;
    out.reserve(e.bytes() + 64 + 8 * e.headers.size());
    out.append(magic);
    put_str(out, e.meta.scope);
    put_str(out, e.meta.method);
    put_str(out, e.meta.path);
    put_u32(out, e.meta.model ? 1 : 0);
    if (e.meta.model)
        put_str(out, *e.meta.model);
    put_str(out, e.meta.route_partition);
    put_u32(out, e.status);
    put_str(out, e.backend);
    put_u32(out, static_cast<std::uint32_t>(e.headers.size()));
    for (const auto& [name, value] : e.headers) {
        put_str(out, name);
        put_str(out, value);
    }
    put_str(out, e.body);
    return out;
}

std::optional<entry_metadata> decode_metadata(std::string_view bytes) {
    reader r(bytes);
    entry_metadata m;
    if (!read_metadata(r, m))
        return std::nullopt;
    return m;
}

std::optional<entry> decode(std::string_view bytes) {
    reader r(bytes);
    entry e;
    std::uint32_t status = 0, headers = 0;
    if (!read_metadata(r, e.meta) || !r.u32(status) || status < 100 || status > 999 ||
        !r.str(e.backend) || !r.u32(headers)) {
        return std::nullopt;
    }
    e.status = status;
    // Each header takes at least 8 bytes: a count larger than the input is a corrupt entry,
    // not an allocation to attempt.
    if (headers > bytes.size() / 8)
        return std::nullopt;
    e.headers.resize(headers);
    for (auto& [name, value] : e.headers) {
        if (!r.str(name) || !r.str(value))
            return std::nullopt;
    }
    if (!r.str(e.body) || !r.at_end())
        return std::nullopt;
    e.wire = wire_headers(e);
    return e;
}

}  // namespace ditto::cache
