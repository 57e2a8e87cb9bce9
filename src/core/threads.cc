#include "paraxis/core/threads.h"

#include <omp.h>

namespace paraxis {

void set_kernel_threads(int n) {
  omp_set_num_threads(n < 1 ? 1 : n);
}
int kernel_threads() {
  return omp_get_max_threads();
}

}  // namespace paraxis
