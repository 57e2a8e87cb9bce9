// run_devices: n device threads in this process, one world communicator each, and a failure path on which no
// device can stay blocked (see ThreadDomain).
#include <pthread.h>
#include <sched.h>

#include <exception>
#include <thread>

#include "comm/threads/threads_comm.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/threads.h"

namespace paraxis {

namespace {
void pin_to(const std::vector<int>& cores) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cores) CPU_SET(c, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort: a refusal only costs speed
}
}  // namespace

void run_devices(int devices, const DeviceOptions& opt, const std::function<void(Communicator&)>& body) {
  validate_device_options(devices, opt);
  const std::vector<int> cores = available_cores();
  const bool own_cores         = static_cast<size_t>(devices) * opt.threads_per_device <= cores.size();
  // Spinning only pays when the device we wait for has a core of its own; otherwise it steals that core.
  const int spin = own_cores ? 4000 : 0;
  comm_detail::ThreadDomain domain(devices, opt.comm_timeout_s, spin);

  std::vector<int> world_devices(devices);
  for (int d = 0; d < devices; ++d) world_devices[d] = d;
  auto world = std::make_shared<comm_detail::ThreadGroup>(domain, world_devices, "world");

  std::vector<std::exception_ptr> errors(devices);
  std::vector<std::thread> threads;
  threads.reserve(devices);
  for (int d = 0; d < devices; ++d) {
    threads.emplace_back([&, d] {
      set_current_device(d);
      if (opt.pin && own_cores) {
        pin_to(std::vector<int>(cores.begin() + d * opt.threads_per_device,
                                cores.begin() + (d + 1) * opt.threads_per_device));
      }
      set_kernel_threads(opt.threads_per_device);
      try {
        comm_detail::ThreadsCommunicator comm(world, d);
        comm.set_check(opt.check);
        body(comm);
      } catch (const std::exception& e) {
        errors[d] = std::current_exception();
        domain.abort(d, e.what());
      } catch (...) {
        errors[d] = std::current_exception();
        domain.abort(d, "unknown exception");
      }
      domain.mark_returned(d);
      set_current_device(-1);
    });
  }
  for (auto& t : threads) t.join();
  world.reset();

  if (!domain.aborted()) return;
  const int root = domain.root_device();
  if (root >= 0 && errors[root]) std::rethrow_exception(errors[root]);
  throw Error(ErrorKind::kRuntime, domain.root_message());  // the watchdog's finding
}

}  // namespace paraxis
