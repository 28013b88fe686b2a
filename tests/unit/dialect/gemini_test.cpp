#include <gtest/gtest.h>

#include "ditto/dialect/dialect.hpp"

// The gemini translation's cases (issue 20) are added with it.
