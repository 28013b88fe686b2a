#pragma once

// A request head of our own instead of Beast's `fields` (issue 21, docs/performance.md). Beast
// keeps each field in its own heap element, linked into a list and a tree, and looks a known
// field up by comparing names case-insensitively down that tree. A request here carries about
// ten fields: they are kept as {field, offsets} into one byte string, in arrival order, found by
// their enum in a short scan. The member names follow Beast's, so code reads the same.

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace ditto::http {

/// A head's fields in arrival order, duplicates kept. Names and values live in one string,
/// so views returned by the accessors are valid until the next change to the list.
class header_list {
    struct slot {
        boost::beast::http::field f;
        std::uint32_t name_off;
        std::uint32_t name_len;
        std::uint32_t value_len;  // the value follows the name
    };

  public:
    /// One field, as Beast's fields show it.
    class value_type {
      public:
        boost::beast::http::field name() const { return f_; }
        std::string_view name_string() const { return name_; }
        std::string_view value() const { return value_; }

      private:
        friend class header_list;
        value_type(boost::beast::http::field f, std::string_view n, std::string_view v)
            : f_(f), name_(n), value_(v) {}
        boost::beast::http::field f_;
        std::string_view name_;
        std::string_view value_;
    };

    class const_iterator {
      public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = header_list::value_type;
        using difference_type = std::ptrdiff_t;
        using pointer = const value_type*;
        using reference = value_type;
        struct arrow {
            value_type v;
            const value_type* operator->() const { return &v; }
        };

        const_iterator() = default;
        value_type operator*() const { return list_->at(i_); }
        arrow operator->() const { return {list_->at(i_)}; }
        const_iterator& operator++() {
            ++i_;
            return *this;
        }
        const_iterator operator++(int) {
            auto old = *this;
            ++i_;
            return old;
        }
        bool operator==(const const_iterator& o) const { return i_ == o.i_; }

      private:
        friend class header_list;
        const_iterator(const header_list* l, std::size_t i) : list_(l), i_(i) {}
        const header_list* list_ = nullptr;
        std::size_t i_ = 0;
    };
    using iterator = const_iterator;

    header_list() = default;
    header_list(const header_list&) = default;
    header_list(header_list&&) noexcept = default;
    header_list& operator=(const header_list&) = default;
    header_list& operator=(header_list&&) noexcept = default;

    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, slots_.size()}; }
    std::size_t size() const { return slots_.size(); }
    bool empty() const { return slots_.empty(); }

    /// The first field with this name, or end().
    const_iterator find(boost::beast::http::field f) const;
    const_iterator find(std::string_view name) const;
    std::size_t count(boost::beast::http::field f) const;
    std::size_t count(std::string_view name) const;
    /// The first value, or "" when there is none.
    std::string_view operator[](boost::beast::http::field f) const;
    std::string_view operator[](std::string_view name) const;

    /// Appends a field; `name` is the text sent for it (a known field's usual spelling when
    /// only the enum is given).
    void insert(boost::beast::http::field f, std::string_view value);
    void insert(std::string_view name, std::string_view value);
    void insert(boost::beast::http::field f, std::string_view name, std::string_view value);
    /// Replaces every field of this name with one.
    void set(boost::beast::http::field f, std::string_view value);
    void set(std::string_view name, std::string_view value);
    /// Removes every field of this name; how many there were.
    std::size_t erase(boost::beast::http::field f);
    std::size_t erase(std::string_view name);

    /// Removes every field `drop(field)` is true for; how many.
    template <class Pred>
    std::size_t erase_if(Pred drop) {
        std::size_t kept = 0;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (!drop(at(i)))
                slots_[kept++] = slots_[i];
        }
        const auto removed = slots_.size() - kept;
        slots_.resize(kept);
        return removed;
    }

    /// Empties the list, keeping its memory for the next head on the connection.
    void clear();

  protected:
    /// Keep-alive as Connection says for this HTTP version (1.1: unless `close`; 1.0: only
    /// with `keep-alive`), and the Connection field that makes it `on`.
    bool connection_keeps_alive(unsigned version) const;
    void set_keep_alive(unsigned version, bool on);
    /// The Content-Length, when there is exactly one well-formed value.
    std::optional<std::uint64_t> declared_length() const;
    /// Content-Length set to `n`, Transfer-Encoding removed.
    void set_content_length(std::uint64_t n);

    /// Stores `s` with the fields' bytes; its offset.
    std::uint32_t keep(std::string_view s);
    std::string_view text(std::uint32_t off, std::uint32_t len) const {
        return {bytes_.data() + off, len};
    }

  private:
    value_type at(std::size_t i) const {
        const auto& s = slots_[i];
        return {s.f, text(s.name_off, s.name_len), text(s.name_off + s.name_len, s.value_len)};
    }
    bool matches(const slot& s, boost::beast::http::field f, std::string_view name) const;
    std::size_t index_of(boost::beast::http::field f, std::string_view name) const;
    std::size_t erase_all(boost::beast::http::field f, std::string_view name);

    // Sixteen inline: a client's request and an upstream's head rarely carry more.
    boost::container::small_vector<slot, 16> slots_;
    // The names and values of a head: one allocation, grown by doubling, kept by clear() for
    // the next head. A plain buffer: a string's append cost more than the copy itself here
    // (about 40 appends per proxied request).
    class byte_store {
      public:
        byte_store() = default;
        byte_store(const byte_store& o) { *this = o; }
        byte_store& operator=(const byte_store& o);
        byte_store(byte_store&& o) noexcept { *this = std::move(o); }
        byte_store& operator=(byte_store&& o) noexcept;
        ~byte_store() { delete[] data_; }

        const char* data() const { return data_; }
        std::uint32_t size() const { return size_; }
        /// Appends `s`; its offset.
        std::uint32_t append(std::string_view s) {
            if (s.size() > cap_ - size_)
                grow(s.size());
            const auto off = size_;
            if (!s.empty())
                std::memcpy(data_ + size_, s.data(), s.size());
            size_ += static_cast<std::uint32_t>(s.size());
            return off;
        }
        void clear() { size_ = 0; }

      private:
        void grow(std::size_t more);
        char* data_ = nullptr;
        std::uint32_t size_ = 0;
        std::uint32_t cap_ = 0;
    };
    byte_store bytes_;
};

/// A request head and its buffered body: what the server hands the handler (filled by
/// request_parser) and what the proxy sends upstream (built by upstream::build_outgoing).
class request : public header_list {
  public:
    request() = default;
    request(boost::beast::http::verb method, std::string_view target, unsigned version);

    boost::beast::http::verb method() const { return verb_; }
    /// The method's text; for an extension method (verb::unknown) the only name it has.
    std::string_view method_string() const { return text(method_off_, method_len_); }
    std::string_view target() const { return text(target_off_, target_len_); }
    unsigned version() const { return version_; }
    void method(boost::beast::http::verb v);
    void method_string(std::string_view s);
    void target(std::string_view t);
    void version(unsigned v) { version_ = v; }

    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    bool keep_alive() const { return connection_keeps_alive(version_); }
    /// Sets Connection so that keep_alive() returns `on` (other Connection tokens go).
    void keep_alive(bool on) { set_keep_alive(version_, on); }

    /// The declared Content-Length, when there is exactly one well-formed value.
    std::optional<std::uint64_t> content_length() const { return declared_length(); }
    void content_length(std::uint64_t n) { set_content_length(n); }
    /// Content-Length for the body when it has one or the method expects one (POST, PUT,
    /// PATCH); otherwise no length field. Transfer-Encoding goes either way.
    void prepare_payload();

    std::string& body() { return body_; }
    const std::string& body() const { return body_; }

    /// Empties the request, keeping its memory for the next one on the connection.
    void clear();

  private:
    boost::beast::http::verb verb_ = boost::beast::http::verb::unknown;
    std::uint32_t method_off_ = 0, method_len_ = 0;
    std::uint32_t target_off_ = 0, target_len_ = 0;
    unsigned version_ = 11;
    std::string body_;
};

}  // namespace ditto::http
