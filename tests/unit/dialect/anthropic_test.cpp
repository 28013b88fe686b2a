#include <gtest/gtest.h>

#include "ditto/dialect/dialect.hpp"

// The anthropic translation's cases (issue 20) are added with it.
