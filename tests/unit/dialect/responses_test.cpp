#include <gtest/gtest.h>

#include "ditto/dialect/dialect.hpp"

// The responses translation's cases (issue 20) are added with it.
