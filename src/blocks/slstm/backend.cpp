#include "xlstm/blocks/slstm/backend.h"

namespace xlstm::slstm {

bool cuda_backend_available() {
#ifdef XLSTM_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace xlstm::slstm
