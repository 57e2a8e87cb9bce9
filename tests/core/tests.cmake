# The layering (scripts/check-layering): no #include in include/ or src/ reaches up the order core -> kernels
# -> nn -> comm -> parallel -> pipeline/cost/trace -> measure -> train -> cli, except the edges the script
# allows with a reason.
add_test(NAME layering COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layering ${CMAKE_SOURCE_DIR})
set_tests_properties(layering PROPERTIES TIMEOUT 60)

# The check itself catches a back-edge: a tiny tree whose core header includes nn.
set(PX_LAYERING_FIXTURE ${CMAKE_BINARY_DIR}/layering_fixture)
file(WRITE ${PX_LAYERING_FIXTURE}/include/paraxis/core/bad.h "#include \"paraxis/nn/layer.h\"\n")
file(WRITE ${PX_LAYERING_FIXTURE}/src/comm/bad.cc "#include \"paraxis/kernels/matmul.h\"\n")
add_test(NAME layering.catches_back_edges
         COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layering ${PX_LAYERING_FIXTURE})
set_tests_properties(layering.catches_back_edges PROPERTIES TIMEOUT 60 PASS_REGULAR_EXPRESSION
                     "core/bad.h:1: core -> nn.*src/comm/bad.cc:1: comm -> kernels.*2 include\\(s\\) against")
