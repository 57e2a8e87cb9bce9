// paraxis/nn/tp_info.h — the tensor-parallel context a model is built for.
//
//   TpInfo tp{tp_comm, /*rank=*/1, /*size=*/2};   // this device is rank 1 of a 2-way tp group
//   auto model = build_model(spec, tp);            // its shard of every split layer
//   TpInfo{}                                       // size 1: the plain single-device model
//
// Passed explicitly to builders and tp layers; never stored in a global.
#pragma once

namespace paraxis {

class Communicator;

struct TpInfo {
  Communicator* comm = nullptr;  // the tensor-parallel group (null: size 1, or a shard built for its shapes
                                 // only, e.g. by plan_step; running it would need the group)
  int rank = 0;                  // this device's position in it
  int size = 1;                  // tp
  bool active() const { return size > 1; }
};

}  // namespace paraxis
