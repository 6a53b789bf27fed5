// Parameter initialisations of the official components/init.py. All act in place without recording
// gradients and return the tensor they filled.
#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace xlstm {

/// Python `small_init_init_`: normal(0, sqrt(2 / (5 dim))) ("Transformers without Tears",
/// Nguyen & Salazar 2019).
torch::Tensor small_init_(const torch::Tensor& param, int64_t dim);

/// Python `wang_init_`: normal(0, 2 / num_blocks / sqrt(dim)).
torch::Tensor wang_init_(const torch::Tensor& param, int64_t dim, int64_t num_blocks);

/// Python `bias_linspace_init_`: a 1-d parameter set to linspace(start, end, numel), computed in
/// float32 as torch.linspace does by default.
torch::Tensor bias_linspace_init_(const torch::Tensor& param, double start = 3.4, double end = 6.0);

}  // namespace xlstm
