// Kernels of this family are registered here (see engine/kernel.h for the contract).
#include "engine/kernel.h"
#include "engine/kernels/kernel_util.h"

namespace deepedge::engine {

void RegisterReduceKernels(KernelRegistry&) {}

}  // namespace deepedge::engine
