#pragma once

// A read-only JSON document for the config parser: one pass into a flat array of nodes, with
// strings left in the source text unless they hold escapes. nlohmann's DOM allocates a map
// node per member; a gateway.json with a million virtual keys took 6 s to parse and free
// that way and takes well under one second this way (docs/performance.md).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::core {

/// One value of a json_dom. Nodes are stored in document order: a container's children
/// follow it, each child's subtree after the one before, so navigation is pointer
/// arithmetic and needs no reference back to the document.
class json_node {
  public:
    enum class kind : std::uint8_t {
        null,
        boolean,
        string,
        unsigned_int,
        signed_int,
        real,
        object,
        array
    };

    kind type() const { return type_; }
    bool is_null() const { return type_ == kind::null; }
    bool is_boolean() const { return type_ == kind::boolean; }
    bool is_string() const { return type_ == kind::string; }
    /// As nlohmann: a non-negative integer literal that fits 64 bits.
    bool is_number_unsigned() const { return type_ == kind::unsigned_int; }
    /// As nlohmann: any integer literal that fits (signed or unsigned).
    bool is_number_integer() const {
        return type_ == kind::unsigned_int || type_ == kind::signed_int;
    }
    bool is_number() const { return is_number_integer() || type_ == kind::real; }
    bool is_object() const { return type_ == kind::object; }
    bool is_array() const { return type_ == kind::array; }

    bool boolean() const { return v_.b; }
    std::string_view str() const { return {v_.s, len_}; }
    std::uint64_t u64() const { return v_.u; }
    std::int64_t i64() const {
        return type_ == kind::unsigned_int ? static_cast<std::int64_t>(v_.u) : v_.i;
    }
    /// Any number as a double.
    double f64() const;

    /// Members of an object or elements of an array; 0 otherwise.
    std::size_t size() const { return is_object() || is_array() ? len_ : 0; }
    bool empty() const { return size() == 0; }
    /// The member name, for a member of an object.
    std::string_view key() const { return {key_, key_len_}; }
    /// The member named `name`, or null; with duplicate names the last one (as nlohmann).
    const json_node* find(std::string_view name) const;

    /// Iterates the children (members or elements) in document order.
    class iterator {
      public:
        explicit iterator(const json_node* n) : n_(n) {}
        const json_node& operator*() const { return *n_; }
        const json_node* operator->() const { return n_; }
        iterator& operator++() {
            n_ += n_->span_;
            return *this;
        }
        bool operator==(const iterator&) const = default;

      private:
        const json_node* n_;
    };
    iterator begin() const { return iterator(this + 1); }
    iterator end() const { return iterator(this + span_); }

  private:
    friend class json_dom;
    const char* key_ = nullptr;
    union {
        bool b;
        const char* s;
        std::uint64_t u;
        std::int64_t i;
        double d;
    } v_{};
    std::uint32_t key_len_ = 0;
    std::uint32_t len_ = 0;   ///< string length, or number of children
    std::uint32_t span_ = 1;  ///< nodes in this subtree, itself included
    kind type_ = kind::null;
};

/// A parsed document (RFC 8259: UTF-8 validated, surrogate pairs checked, nothing after the
/// value but whitespace; nesting at most 512 deep, documents under 4 GiB). The text must
/// outlive the document: unescaped strings point into it.
class json_dom {
  public:
    json_dom() = default;
    json_dom(const json_dom&) = delete;
    json_dom& operator=(const json_dom&) = delete;

    /// False when `text` is not one valid JSON value; error() and error_offset() say why.
    bool parse(std::string_view text);
    const json_node& root() const { return nodes_.front(); }
    const std::string& error() const { return error_; }
    std::size_t error_offset() const { return error_offset_; }

  private:
    class parser;
    std::vector<json_node> nodes_;
    std::unique_ptr<char[]> arena_;  ///< decoded strings; never longer than the text
    std::string error_;
    std::size_t error_offset_ = 0;
};

}  // namespace ditto::core
