// The mpi backend's communicator: one process per device, OpenMPI underneath. Blocking calls map to the MPI
// collective of the same name, async calls to its nonblocking twin (MPI_Iallreduce …); the average is a sum
// divided by size afterwards, exactly as the threads backend computes it. Errors come back as codes
// (MPI_ERRORS_RETURN) and become paraxis errors naming the call.
#pragma once

// The C API only: the deprecated C++ bindings need a library we do not link.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include "paraxis/comm/communicator.h"

namespace paraxis::comm_detail {

// Throws a runtime error "<what> failed: <MPI's text>" unless rc is MPI_SUCCESS.
void mpi_check(int rc, const char* what);

class MpiCommunicator : public Communicator {
 public:
  // Takes ownership of `comm` (freed in the destructor) unless it is MPI_COMM_WORLD.
  MpiCommunicator(MPI_Comm comm, std::string name);
  ~MpiCommunicator() override;

  const char* backend() const override { return "mpi"; }
  bool aborted() const override { return false; }  // on MPI a failure aborts the whole job
  MPI_Comm handle() const { return comm_; }

 protected:
  void run(const CommCall& c) override;
  Work run_async(const CommCall& c, RingRef ref) override;
  std::unique_ptr<Communicator> run_split(const CommCall& c) override;

 private:
  void check_same_call(const CommCall& c);  // check mode: compare the call across members

  MPI_Comm comm_;
};

// The MPI communicator under a Communicator of the mpi backend (for benchmarks that compare with raw MPI).
MPI_Comm mpi_handle(Communicator& comm);

// The process-wide watchdog of the mpi backend: started by run_mpi, it watches every live MpiCommunicator.
void mpi_watchdog_start(double timeout_s);
void mpi_watchdog_stop();

}  // namespace paraxis::comm_detail
