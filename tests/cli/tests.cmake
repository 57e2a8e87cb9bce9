# CLI pieces that live in the executable's sources but are unit-tested: compile them into the test binary too.
target_sources(paraxis_tests PRIVATE ${CMAKE_SOURCE_DIR}/src/cli/model_flags.cc)
target_link_libraries(paraxis_tests PRIVATE CLI11::CLI11)
