// paraxis/parallel/data_parallel.h — one device's gradients over its data-parallel group: flat storage in
// backward order, buckets all-reduced as they complete (PyTorch DDP), or ZeRO-1's reduce-scatter, shard
// update and all-gather (Rajbhandari et al. 2020). The step's schedule (pipeline/step.h) says when: this unit
// only does what its REDUCE_GRAD / REDUCE_SCATTER / ALL_GATHER actions ask.
//
//   DataParallel dp(params_in_backward_order, blocks_of_params, dp_comm, /*dp=*/2, /*rank=*/0,
//                   /*zero1=*/false, /*bucket_mb=*/25, record);
//   spec.buckets[pp_rank] = dp.buckets();            // the step's REDUCE_GRAD actions come from this layout
//   dp.begin_step();
//   dp.arm(0, 7);         // REDUCE_GRAD0 (action 7) follows the running backward: start it once complete
//   dp.block_done(3);     // block 3's gradients are final (its last W, or its FLUSH_W)
//   dp.reduce(0, 7);      // the REDUCE_GRAD0 action itself: started by now (or now)
//   dp.wait_all();        // before GRAD_NORM and OPT_STEP (once a step)
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "paraxis/comm/communicator.h"
#include "paraxis/nn/layer.h"
#include "paraxis/pipeline/step.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

class DataParallel {
 public:
  // Records one collective of the dp group on the device's trace: kind, begin time, bytes, and the index of
  // the step action it belongs to (null: no trace).
  using RecordFn = std::function<void(trace::Kind, int64_t t_begin_ns, int64_t bytes, int action)>;

  // params: this device's parameters in flat order (last block first); blocks: each one's block. Moves their
  // values into one flat buffer and points their grads into another.
  DataParallel(const std::vector<Param*>& params, const std::vector<int>& blocks, Communicator* dp_comm,
               int dp, int dp_rank, bool zero1, double bucket_mb, RecordFn record);

  const std::vector<pipeline::GradBucket>& buckets() const { return buckets_; }
  bool zero1() const { return zero1_; }
  // The parameters the optimizer steps: all of them, or ZeRO-1's pieces of this rank's shard.
  std::vector<Param*> optimizer_params();

  void begin_step();
  // `action`: the index of the bucket's REDUCE_GRAD in the device's list (its trace event names it).
  void arm(int bucket, int action);
  void block_done(int block);
  void reduce(int bucket, int action);
  void wait_all();
  void reduce_scatter(int action);
  // ZeRO-1: copies this rank's updated shard out and all-gathers every rank's into the parameters.
  void all_gather(int action);
  // Zeroes the accumulation buffers the optimizer's fused update did not (fused: it zeroed its own grads).
  void zero_grads(bool fused);

 private:
  struct Bucket {
    int pending = 0;  // parameters whose gradients are not final yet this step
    bool armed = false, launched = false, waited = false;
    int64_t t_launch = 0;
    int action       = -1;
    Work work;
  };
  void launch(int bucket);
  void make_shard(const std::vector<Param*>& params);

  Communicator* comm_;
  int dp_, rank_;
  bool zero1_;
  RecordFn record_;
  Tensor flat_value_, flat_grad_;
  int64_t numel_ = 0;
  std::vector<pipeline::GradBucket> buckets_;
  std::vector<Bucket> state_;
  std::vector<std::vector<int>> block_buckets_;  // block -> (bucket, params of the block in it) pairs, flat
  std::vector<std::vector<int>> block_counts_;
  int64_t shard_begin_ = 0, shard_len_ = 0;
  Tensor grad_shard_, value_shard_;
  std::vector<Param> shard_params_;
  std::vector<Param*> params_;
};

}  // namespace paraxis
