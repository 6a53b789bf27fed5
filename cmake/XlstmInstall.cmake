# install() rules and the exported xlstm::xlstm package.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(XLSTM_EXPORT_TARGETS xlstm)
if(XLSTM_WITH_CUDA)
  list(APPEND XLSTM_EXPORT_TARGETS xlstm_kernels)
endif()
install(TARGETS ${XLSTM_EXPORT_TARGETS} EXPORT xlstmTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/xlstm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT xlstmTargets NAMESPACE xlstm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xlstm)
configure_package_config_file(cmake/xlstmConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/xlstmConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xlstm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/xlstmConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/xlstmConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/xlstmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/xlstm)
