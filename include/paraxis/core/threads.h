// paraxis/core/threads.h — how many threads one device's compute may use.
//
//   set_kernel_threads(4);   // this thread's kernels (OpenMP inside oneDNN and our loops) use 4 threads
//
// Per calling thread: the launchers (comm/launch.h) set it on each device thread before the body runs, so
// the setting lives below both the kernels that honour it and the communicators that start the devices.
#pragma once

namespace paraxis {

// Threads each device's kernels may use (OpenMP inside oneDNN and our loops). Per calling thread.
void set_kernel_threads(int n);
int kernel_threads();

}  // namespace paraxis
