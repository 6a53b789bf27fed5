# CUDA support. XLSTM_CUDA=AUTO builds the kernels when nvcc is found and links them into the library
# when LibTorch itself was built with CUDA; ON makes a missing nvcc an error; OFF skips both.
set(XLSTM_HAVE_NVCC OFF)
set(XLSTM_WITH_CUDA OFF)
if(NOT XLSTM_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # sm_80 and sm_90 machine code plus sm_90 PTX for newer GPUs.
      set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    set(XLSTM_HAVE_NVCC ON)
  elseif(XLSTM_CUDA STREQUAL "ON")
    message(FATAL_ERROR "XLSTM_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# The kernels: kernels/<family>/*.cu with their launch API kernels/<family>/<family>_kernels.h, and
# the headers every family shares in kernels/common/ (element types, barriers, mma, launches). The
# include root is kernels/, so sources and the bridges in src/ops/**/*_cuda.cpp include
# "common/..." and "<family>/...". One static library holds every family.
if(XLSTM_HAVE_NVCC)
  file(GLOB_RECURSE XLSTM_KERNEL_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kernels/*.cu)
  if(XLSTM_KERNEL_SOURCES)
    add_library(xlstm_kernels STATIC ${XLSTM_KERNEL_SOURCES})
    target_include_directories(xlstm_kernels PUBLIC
      $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/kernels>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/xlstm/kernels>)
    set_target_properties(xlstm_kernels PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                   CUDA_STANDARD 17 CUDA_STANDARD_REQUIRED ON)
    target_compile_options(xlstm_kernels PRIVATE
      $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -static-global-template-stub=false>)
    find_package(CUDAToolkit REQUIRED)
    target_link_libraries(xlstm_kernels PUBLIC CUDA::cudart)
    # LibTorch with CUDA defines the c10_cuda / torch_cuda libraries.
    if(TORCH_CUDA_LIBRARIES OR TARGET torch_cuda)
      set(XLSTM_WITH_CUDA ON)
    endif()
  endif()
endif()
message(STATUS "xlstm: nvcc ${XLSTM_HAVE_NVCC}, CUDA in library ${XLSTM_WITH_CUDA}")
