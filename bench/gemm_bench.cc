// The ceilings the forward pass works under: single-thread throughput of the matrix kernels on
// ViT-B/32's and ViT-L/14's shapes (M = 50 tokens per image, so 400 is batch 8) per ISA path this
// CPU has, the cores' FMA peak, and one encoder layer's products alone on the runtime's threads.
//
//   build/bench/gemm_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <clipembed/runtime.h>
#include <immintrin.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/attention.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_f32.h"
#include "kernels/gemm_s8.h"
#include "kernels/isa.h"
#include "ops/dense.h"

namespace {

using clipembed::kernels::Isa;

// Args: isa (0 scalar, 1 avx2, 2 avx512), m, n, k.
void BM_GemmF32(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  // Rows of A as the encoder lays its activations out (padded when k floats are 4 KiB multiples).
  const int64_t lda = clipembed::ops::activation_stride(k);
  if (!clipembed::kernels::isa_supported(isa)) return state.SkipWithError("ISA not supported");
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> a(m * lda), w(n * k), c(m * n);
  for (float& v : a) v = dist(rng);
  for (float& v : w) v = dist(rng);
  clipembed::kernels::AlignedBuffer<float> packed(clipembed::kernels::packed_f32_size(n, k));
  for (int64_t t = 0; t < clipembed::kernels::panel_count(n); ++t) {
    clipembed::kernels::pack_f32_panel(w.data() + t * 16 * k, std::min<int64_t>(16, n - t * 16), k,
                                       packed.data() + t * 16 * k);
  }
  const clipembed::kernels::Epilogue e{};
  for (auto _ : state) {
    clipembed::kernels::gemm_f32(isa, m, n, k, a.data(), lda, packed.data(), 0,
                                 clipembed::kernels::panel_count(n), c.data(), n, e);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_GemmS8(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  const int64_t m = state.range(1), n = state.range(2), k = state.range(3);
  if (!clipembed::kernels::isa_supported(isa)) return state.SkipWithError("ISA not supported");
  const int64_t kp = clipembed::kernels::padded_k(k);
  std::mt19937 rng(1);
  std::vector<uint8_t> a(m * kp);
  std::vector<int8_t> w(n * k);
  for (auto& v : a) v = static_cast<uint8_t>(rng());
  for (auto& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  std::vector<float> c(m * n), row_scale(m, 0.01f), col_scale(n, 0.02f);
  std::vector<int32_t> row_zero(m, 3), col_sum(n, 7);
  clipembed::kernels::AlignedBuffer<int8_t> packed(clipembed::kernels::packed_s8_size(n, k));
  for (int64_t t = 0; t < clipembed::kernels::panel_count(n); ++t) {
    clipembed::kernels::pack_s8_panel(w.data() + t * 16 * k, std::min<int64_t>(16, n - t * 16), k,
                                      packed.data() + t * 16 * kp);
  }
  const clipembed::kernels::QuantizedEpilogue e{row_scale.data(), row_zero.data(), col_scale.data(),
                                                col_sum.data()};
  for (auto _ : state) {
    clipembed::kernels::gemm_s8(isa, m, n, k, a.data(), kp, packed.data(), 0,
                                clipembed::kernels::panel_count(n), c.data(), n, e);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * m * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// One head of attention over one item, q, k and v interleaved as the fused q/k/v product writes
// them (rows 3 x hidden floats apart). Args: isa, tokens, head_dim, hidden.
void BM_AttentionHead(benchmark::State& state) {
  const auto isa = static_cast<Isa>(state.range(0));
  const int64_t n = state.range(1), head_dim = state.range(2), ld = 3 * state.range(3);
  if (!clipembed::kernels::isa_supported(isa)) return state.SkipWithError("ISA not supported");
  std::mt19937 rng(1);
  std::normal_distribution<float> dist;
  std::vector<float> qkv(n * ld), out(n * ld / 3);
  for (float& v : qkv) v = dist(rng);
  std::vector<float> scratch(clipembed::kernels::attention_scratch_floats(n, head_dim));
  const int64_t hidden = ld / 3;
  for (auto _ : state) {
    clipembed::kernels::attention_head(isa, n, {0, n}, head_dim, qkv.data(), qkv.data() + hidden,
                                       qkv.data() + 2 * hidden, ld, false, out.data(), hidden,
                                       scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  // Scores and weighted sums: two products of n x n x head_dim.
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * n * n * head_dim * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

// The FMA peak of the cores this runs on: independent chains of fused multiply-adds on whole
// vectors, enough of them to cover the latency on every core we meet (4 cycles, 2 pipes). The
// ceiling the float32 products work under: bench/compare turns it into images/s for each model.
// Args: isa (1 avx2: 12 ymm chains, 2 avx512: 24 zmm chains); run on 1 and 2 threads at once.
// The loops over the chains are unrolled in full so that every accumulator has a constant index
// and lives in a register: left rolled, GCC keeps the array in memory and turns the loop inside
// out, which measures the store-to-load latency instead of the FMA units.

// Twelve chains of ymm (two pipes of 4-cycle latency need eight).
__attribute__((target("avx2,fma"))) float fma_chains_avx2(int64_t steps, float scale) {
  __m256 acc[12];
#pragma GCC unroll 16
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(scale), y = _mm256_set1_ps(1e-3f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
#pragma GCC unroll 16
  for (int i = 1; i < 12; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  return _mm256_cvtss_f32(acc[0]);
}

// Twenty-four chains of zmm, as many as the float32 tile keeps (28) less its operands.
__attribute__((target("avx512f"))) float fma_chains_avx512(int64_t steps, float scale) {
  __m512 acc[24];
#pragma GCC unroll 32
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(scale), y = _mm512_set1_ps(1e-3f);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 32
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
#pragma GCC unroll 32
  for (int i = 1; i < 24; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  return lanes[0];
}

// Twenty-four chains of vdpbf16ps (AVX512_BF16): 32 bf16 products a lane pair, summed in fp32.
__attribute__((target("avx512f,avx512bf16"))) float bf16_pair_chains(int64_t steps, float scale) {
  __m512 acc[24];
#pragma GCC unroll 32
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const auto x = reinterpret_cast<__m512bh>(_mm512_set1_epi16(static_cast<int16_t>(0x3f80)));
  const auto y = reinterpret_cast<__m512bh>(_mm512_set1_ps(scale));
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 32
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  }
#pragma GCC unroll 32
  for (int i = 1; i < 24; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  return _mm512_cvtss_f32(acc[0]);
}

// Twenty-four chains of vpdpbusd (AVX512_VNNI): 64 8-bit products a vector, summed in int32.
__attribute__((target("avx512f,avx512vnni"))) float vnni_chains(int64_t steps, float scale) {
  __m512i acc[24];
#pragma GCC unroll 32
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i x = _mm512_set1_epi8(static_cast<char>(1 + (scale > 1.0f)));
  const __m512i y = _mm512_set1_epi8(3);
  for (int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 32
    for (int i = 0; i < 24; ++i) {
      // Inline assembly, as in gemm_s8_avx512.cc: from the intrinsic GCC copies each accumulator
      // before the instruction, which halves the rate measured.
      asm("vpdpbusd %2, %1, %0" : "+v"(acc[i]) : "v"(x), "v"(y));
    }
  }
#pragma GCC unroll 32
  for (int i = 1; i < 24; ++i) acc[0] = _mm512_add_epi32(acc[0], acc[i]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, acc[0]);
  return static_cast<float>(lanes[0]);
}

// Args: 1 avx2 fp32, 2 avx512 fp32, 3 bf16 pairs (AVX512_BF16), 4 int8 (AVX512_VNNI). The counter
// counts two operations a multiply-add in every case (a bf16 pair is two, a VNNI group four).
void BM_FmaPeak(benchmark::State& state) {
  const int64_t kind = state.range(0);
  const bool bf16 = kind == 3, vnni = kind == 4;
  const Isa isa = kind == 1 ? Isa::kAvx2 : Isa::kAvx512;
  if (!clipembed::kernels::isa_supported(isa) ||
      (bf16 && !clipembed::kernels::bf16_native(Isa::kAvx512))) {
    return state.SkipWithError("ISA not supported");
  }
  constexpr int64_t kSteps = 1 << 16;
  const double flops_per_step = bf16                  ? 24 * 32 * 2
                                : vnni                ? 24 * 64 * 2
                                : isa == Isa::kAvx512 ? 24 * 16 * 2
                                                      : 12 * 8 * 2;
  float scale = 0.999f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(scale);  // Opaque to the compiler: each pass really runs.
    benchmark::DoNotOptimize(bf16                  ? bf16_pair_chains(kSteps, scale)
                             : vnni                ? vnni_chains(kSteps, scale)
                             : isa == Isa::kAvx512 ? fma_chains_avx512(kSteps, scale)
                                                   : fma_chains_avx2(kSteps, scale));
  }
  // Summed over the threads: the peak of all the cores the benchmark ran on.
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_step * kSteps * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

// The four products of one encoder layer (q/k/v, out, fc1, fc2) as the encoder runs them: Dense
// layers on a runtime of CLIPEMBED_THREADS threads (default 2), rows at the encoder's
// strides, inside one runtime task as a forward pass is. Nothing else of the layer runs, so
// `layers` of these are a bound on a pass: bench/compare turns it into the images/s no forward
// pass with these kernels can pass here. Args: rows (tokens x batch), hidden, intermediate,
// precision (0 fp32, 1 int8, 2 bf16).
void BM_LayerProducts(benchmark::State& state) {
  namespace ops = clipembed::ops;
  const int64_t m = state.range(0), d = state.range(1), f = state.range(2);
  const char* env = std::getenv("CLIPEMBED_THREADS");
  clipembed::Runtime runtime(clipembed::RuntimeOptions{.threads = env ? std::atoi(env) : 2});
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  auto random = [&](int64_t count) {
    std::vector<float> v(static_cast<size_t>(count));
    for (float& x : v) x = dist(rng);
    return v;
  };
  const std::vector<float> w_qkv = random(3 * d * d), w_out = random(d * d), w_fc1 = random(f * d),
                           w_fc2 = random(d * f), b_d = random(d), b_3d = random(3 * d),
                           b_f = random(f);
  const int64_t precision = state.range(3);
  auto dense = [&](const ops::LinearWeights& w) {
    const std::array parts{w};
    return precision == 1   ? ops::Dense::int8(runtime, parts)
           : precision == 2 ? ops::Dense::bf16(runtime, parts)
                            : ops::Dense::float32(runtime, parts);
  };
  const ops::Dense qkv = dense({w_qkv.data(), b_3d.data(), d, 3 * d});
  const ops::Dense out = dense({w_out.data(), b_d.data(), d, d});
  const ops::Dense fc1 = dense({w_fc1.data(), b_f.data(), d, f});
  const ops::Dense fc2 = dense({w_fc2.data(), b_d.data(), f, d});
  const int64_t hd = ops::activation_stride(d), fd = ops::activation_stride(f);
  std::vector<float> x = random(m * d), h = random(m * hd), attn = random(m * hd),
                     qkv_rows(static_cast<size_t>(m * 3 * d)), mlp(static_cast<size_t>(m * fd));
  ops::DenseScratch scratch;
  auto layer = [&] {
    qkv.apply(runtime, h.data(), hd, m, qkv_rows.data(), 3 * d, {}, scratch);
    out.apply(runtime, attn.data(), hd, m, x.data(), d, {.accumulate = true}, scratch);
    fc1.apply(runtime, h.data(), hd, m, mlp.data(), fd, {.act = ops::Activation::kQuickGelu},
              scratch);
    fc2.apply(runtime, mlp.data(), fd, m, x.data(), d, {.accumulate = true}, scratch);
  };
  runtime.submit(layer).get();  // Warm-up.
  for (auto _ : state) runtime.submit(layer).get();
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * m * (4 * d * d + 2 * d * f) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int isa : {1, 2}) {
    for (auto shape : {std::vector<int64_t>{400, 768, 768},
                       {400, 3072, 768},
                       {400, 768, 3072},
                       {50, 768, 768},
                       {50, 2304, 768},
                       {50, 3072, 768},
                       {50, 768, 3072},
                       // ViT-L/14 at batch 8 (257 tokens an image): A no longer fits in L2,
                       // and at batch 1.
                       {2056, 3072, 1024},
                       {2056, 1024, 1024},
                       {2056, 4096, 1024},
                       {2056, 1024, 4096},
                       {257, 3072, 1024},
                       {257, 4096, 1024},
                       {257, 1024, 4096}}) {
      b->Args({isa, shape[0], shape[1], shape[2]});
    }
  }
}

BENCHMARK(BM_FmaPeak)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->Arg(4)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
// ViT-B/32, ViT-L/14 and SigLIP so400m at batch 8 and 1.
BENCHMARK(BM_LayerProducts)
    ->ArgsProduct({{400, 50}, {768}, {3072}, {0, 1, 2}})
    ->ArgsProduct({{2056, 257}, {1024}, {4096}, {0, 1, 2}})
    // SigLIP so400m/14-384 at batch 8 and 1 (729 tokens an image).
    ->ArgsProduct({{5832, 729}, {1152}, {4304}, {0, 1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmF32)->Apply(Shapes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmS8)->Apply(Shapes)->Unit(benchmark::kMillisecond);
// ViT-B/32 (50 tokens, hidden 768) and ViT-L/14 (257 tokens, hidden 1024), heads of 64.
BENCHMARK(BM_AttentionHead)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (int isa : {0, 1, 2}) {
        b->Args({isa, 50, 64, 768});
        b->Args({isa, 257, 64, 1024});
      }
    })
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
