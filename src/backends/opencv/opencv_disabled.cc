#include "deepedge/backends.h"

namespace deepedge {

std::unique_ptr<Backend> MakeOpenCvBackend() {
  return nullptr;
}

}  // namespace deepedge
