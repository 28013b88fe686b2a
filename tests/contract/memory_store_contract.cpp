#include "ditto/store/memory/memory_control_store.hpp"
#include "governor_contract.hpp"

namespace ditto::store::contract {

INSTANTIATE_TEST_SUITE_P(memory, StoreContract,
                         ::testing::Values(factory{"memory", [] { return make_memory_store(); }}),
                         [](const auto& p) { return p.param.name; });
INSTANTIATE_TEST_SUITE_P(memory, GovernorContract,
                         ::testing::Values(factory{"memory", [] { return make_memory_store(); }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace ditto::store::contract
