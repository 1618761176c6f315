#include "core/cpu_features.h"

#include <atomic>
#include <cpuid.h>
#include <cstdlib>
#include <cstring>
#include <sys/syscall.h>
#include <unistd.h>

namespace wc {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

// Linux keeps the AMX tile data state off until a process asks for it (kernel ≥ 5.16);
// the grant is process-wide, for every thread. Elsewhere: no AMX.
bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures probe() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse42 = c & (1u << 20);
  bool osxsave = c & (1u << 27);
  bool avx_hw = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  bool os_ymm = (xcr0 & 0x6) == 0x6;
  bool os_zmm = (xcr0 & 0xe6) == 0xe6;
  bool os_amx = (xcr0 & 0x60000) == 0x60000;
  f.avx = avx_hw && os_ymm;
  if (!f.avx) { f.fma = false; f.f16c = false; }
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = f.avx && (b & (1u << 5));
    if (os_zmm) {
      f.avx512f = b & (1u << 16);
      f.avx512dq = b & (1u << 17);
      f.avx512bw = b & (1u << 30);
      f.avx512vl = b & (1u << 31);
      f.avx512_vnni = c & (1u << 11);
      f.avx512_fp16 = d & (1u << 23);
    }
    f.amx_tile = os_amx && (d & (1u << 24));
    f.amx_bf16 = f.amx_tile && (d & (1u << 22));
    f.amx_int8 = f.amx_tile && (d & (1u << 25));
    __cpuid_count(7, 1, a, b, c, d);
    if (os_zmm) f.avx512_bf16 = a & (1u << 5);
  }
  f.amx = f.amx_bf16 && f.avx512_bf16 && request_amx_permission();
  if (const char* e = std::getenv("WORLDCAST_AMX")) f.amx = f.amx && e[0] != '0';
  return f;
}

Isa env_isa(Isa best) {
  const char* e = std::getenv("WORLDCAST_ISA");
  if (!e) return best;
  Isa want = best;
  if (!std::strcmp(e, "scalar")) want = Isa::Scalar;
  else if (!std::strcmp(e, "avx2")) want = Isa::Avx2;
  else if (!std::strcmp(e, "avx512")) want = Isa::Avx512;
  return int(want) < int(best) ? want : best;
}

std::atomic<int> g_isa{-1};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = probe();
  return f;
}

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return Isa::Avx512;
  if (f.avx2 && f.fma && f.f16c) return Isa::Avx2;
  return Isa::Scalar;
}

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = int(env_isa(best_isa()));
    g_isa.store(v, std::memory_order_relaxed);
  }
  return Isa(v);
}

Isa set_active_isa(Isa isa) {
  Isa best = best_isa();
  Isa v = int(isa) < int(best) ? isa : best;
  g_isa.store(int(v), std::memory_order_relaxed);
  return v;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  std::string s;
  auto add = [&](bool on, const char* n) {
    if (on) { if (!s.empty()) s += ' '; s += n; }
  };
  add(f.sse42, "sse4.2"); add(f.avx, "avx"); add(f.avx2, "avx2"); add(f.fma, "fma"); add(f.f16c, "f16c");
  add(f.avx512f, "avx512f"); add(f.avx512bw, "avx512bw"); add(f.avx512vl, "avx512vl"); add(f.avx512dq, "avx512dq");
  add(f.avx512_bf16, "avx512_bf16"); add(f.avx512_vnni, "avx512_vnni"); add(f.avx512_fp16, "avx512_fp16");
  add(f.amx_tile, "amx_tile"); add(f.amx_bf16, "amx_bf16"); add(f.amx_int8, "amx_int8");
  add(f.amx, "amx_usable");
  return s;
}

}  // namespace wc
