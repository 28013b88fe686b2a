#pragma once

// The governor contract (governor_contract.cpp), on the store contract's fixture: each store
// instantiates it with its factories.

#include "store_contract.hpp"

namespace ditto::store::contract {

class GovernorContract : public StoreContract {
  protected:
    void SetUp() override;
    /// A request of `tokens` on scope key-1, with a token budget `budget` there when set, and
    /// the rate limits `rate` when not null.
    admission request(std::uint64_t tokens, std::optional<std::uint64_t> budget,
                      const std::vector<rate_scope>* rate = nullptr);
    admission_result admit(admission a);
    /// Settles `t`: commit or roll back, the usage `tokens` (tpm and spend; nullopt: as
    /// charged), and the rpm refund; expects no error.
    void settle(const admission_ticket& t, bool commit, std::optional<std::uint64_t> tokens,
                bool refund = false);

  private:
    int next_ = 0;
};

}  // namespace ditto::store::contract
