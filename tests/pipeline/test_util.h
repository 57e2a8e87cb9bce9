// Helpers for the pipeline tests: expect a user error whose message contains every given fragment.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "paraxis/core/error.h"

#define EXPECT_USER_ERROR(statement, ...)                                          \
  do {                                                                             \
    try {                                                                          \
      statement;                                                                   \
      ADD_FAILURE() << "expected a user error from " #statement;                   \
    } catch (const ::paraxis::Error& e) {                                          \
      EXPECT_EQ(e.exit_code(), 2) << e.what();                                     \
      for (const char* fragment : std::initializer_list<const char*>{__VA_ARGS__}) \
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)         \
            << "message lacks '" << fragment << "':\n"                             \
            << e.what();                                                           \
    }                                                                              \
  } while (0)
