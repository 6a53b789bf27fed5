// The element types of kernel inputs and outputs, as the launch APIs name them (plain C++: the
// LibTorch side includes this without CUDA headers of its own).
#pragma once

namespace xlstm::kernels {

enum class ElementType { kFloat32, kBFloat16, kFloat16 };

}  // namespace xlstm::kernels
