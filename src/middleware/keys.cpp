#include "ditto/middleware/keys.hpp"

#include "ditto/config/load.hpp"

namespace ditto::middleware {

key_snapshot::key_snapshot(const std::vector<config::virtual_key_config>& keys) {
    by_lookup_.reserve(keys.size());
    for (const auto& k : keys)
        by_lookup_.emplace(config::token_lookup_key(k.token), k);
}

const config::virtual_key_config* key_snapshot::find(std::string_view lookup_hex) const {
    auto it = by_lookup_.find(std::string(lookup_hex));
    return it == by_lookup_.end() ? nullptr : &it->second;
}

}  // namespace ditto::middleware
