// Run-time CPU feature probe (CPUID + XGETBV) and the SIMD level kernels dispatch on.
#pragma once
#include <string>

namespace wc {

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512_bf16 = false, avx512_vnni = false, avx512_fp16 = false, amx_tile = false;
  bool amx_bf16 = false, amx_int8 = false;
  // AMX tiles usable by this process: the CPU has AMX-TILE + AMX-BF16, the OS enables
  // their state (XCR0) and granted this process the tile data (Linux's
  // arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA), asked once at the first probe).
  // WORLDCAST_AMX=0 turns it off (to compare against the AVX-512 paths).
  bool amx = false;
};

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

const CpuFeatures& cpu_features();
// Best level the CPU and OS support, lowered by the environment variable
// WORLDCAST_ISA=scalar|avx2|avx512 (never raised above what the CPU has).
Isa active_isa();
// Force a level for tests (clamped to what the CPU supports). Returns the level set.
Isa set_active_isa(Isa isa);
Isa best_isa();
const char* isa_name(Isa isa);
std::string cpu_features_string();

}  // namespace wc
