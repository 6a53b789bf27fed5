# Runs xlstm-config on one file: cmake -DBINARY=... -DFILE=... -DEXPECT_RC=0|1 [-DEXPECT_OUTPUT=regex]
# -P run_xlstm_config.cmake. Fails unless the exit code and the output (stdout + stderr) match.
execute_process(COMMAND ${BINARY} ${FILE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "xlstm-config ${FILE}: exit code ${rc}, expected ${EXPECT_RC}\n${out}${err}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT "${out}${err}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "xlstm-config ${FILE}: output does not match '${EXPECT_OUTPUT}':\n${out}${err}")
endif()
